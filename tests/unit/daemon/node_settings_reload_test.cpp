// The reload's read (load_snapshot): this node's DATA/node.json merged over the stored services,
// its warnings, and a damaged file failing the read.
#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <string>

#include "daemon/builtin_modules.h"
#include "daemon/reload.h"
#include "storage/mail_store.h"
#include "storage/node/node_settings_file.h"
#include "storage/policy_store.h"
#include "storage/store_factory.h"
#include "tests/unit/support/temp_dir.h"

namespace st = mailroom::storage;
using mailroom::testing::TempDir;

namespace {

struct Stores {
  std::string data;
  std::unique_ptr<st::AccountStore> accounts;
  std::unique_ptr<st::PolicyStore> policy;
  std::unique_ptr<st::MailStore> mail = st::make_maildir_store();
  mailroom::daemon::Modules modules;

  explicit Stores(std::string dir) : data(std::move(dir)) {
    auto a = st::open_account_store(data, true);
    REQUIRE(a.ok());
    accounts = std::move(a).value();
    auto p = st::open_policy_store(data);
    REQUIRE(p.ok());
    policy = std::move(p).value();
    REQUIRE(accounts->ensure_service("pop3", "pop3", true).ok());
    REQUIRE(accounts->set_service_setting("pop3", "port", "2110").ok());
    REQUIRE(accounts->set_service_setting("pop3", "max_connections", "7").ok());
    modules = mailroom::builtin::make_modules(*accounts, *mail, data);
  }

  mailroom::Result<mailroom::daemon::Snapshot> load() {
    return mailroom::daemon::load_snapshot(*accounts, *policy, modules, data, {}, std::nullopt);
  }
  const st::ServiceRecord& pop3(const mailroom::daemon::Snapshot& snap) {
    for (const auto& r : snap.records) {
      if (r.name == "pop3") return r;
    }
    FAIL("no pop3 record");
    return snap.records.front();
  }
};

}  // namespace

TEST_CASE("reload: node-local settings over the stored ones") {
  TempDir tmp;
  Stores s(tmp.path());
  auto plain = s.load();
  REQUIRE(plain.ok());
  CHECK(s.pop3(*plain).settings.at("port") == "2110");
  CHECK(plain->node_warnings.empty());

  st::NodeSettings node;
  node.services["pop3"]["port"] = "3110";
  node.services["pop3"]["binds"] = "127.0.0.1";
  node.services["gone"]["port"] = "4110";
  REQUIRE(st::write_node_settings(s.data, node).ok());
  const std::string stamp = mailroom::daemon::node_settings_stamp(s.data);
  CHECK(stamp != "missing");
  auto merged = s.load();
  REQUIRE(merged.ok());
  const auto& rec = s.pop3(*merged);
  CHECK(rec.settings.at("port") == "3110");
  CHECK(rec.settings.at("binds") == "127.0.0.1");
  CHECK(rec.settings.at("max_connections") == "7");  // the cluster's
  REQUIRE(merged->node_warnings.size() == 1);
  CHECK(merged->node_warnings[0].find("no service is named 'gone'") != std::string::npos);
  // The listeners are planned from the merged values.
  REQUIRE(merged->binds.count("pop3") == 1);

  // A value the catalog refuses is left out: the cluster's applies.
  std::ofstream(st::node_settings_path(s.data)) << R"({"services": {"pop3": {"port": 0}}})";
  CHECK(mailroom::daemon::node_settings_stamp(s.data) != stamp);
  auto refused = s.load();
  REQUIRE(refused.ok());
  CHECK(s.pop3(*refused).settings.at("port") == "2110");
  REQUIRE(refused->node_warnings.size() == 1);
  CHECK(refused->node_warnings[0].find("node.json: pop3 port:") == 0);
}

TEST_CASE("reload: a damaged node file fails the read, naming it") {
  TempDir tmp;
  Stores s(tmp.path());
  std::ofstream(st::node_settings_path(s.data)) << R"({"services": {"pop3": {"idle_timeout": 5}}})";
  auto snap = s.load();
  REQUIRE_FALSE(snap.ok());
  CHECK(snap.error().message.find(st::node_settings_path(s.data)) == 0);
  CHECK(snap.error().message.find("idle_timeout") != std::string::npos);
}
