// The diff of an apply: what changes, in which order, and what is refused before any write.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin-cli/provision/provision_diff.h"

namespace pv = mailroom::cli::provision;
namespace op = mailroom::storage::provision_op;
using json = nlohmann::ordered_json;

namespace {

const std::string kHash = "$6$saltsalt$" + std::string(86, 'a');
const std::string kOtherHash = "$6$saltsalt$" + std::string(86, 'b');

mailroom::storage::ProvisioningSnapshot current() {
  mailroom::storage::ProvisioningSnapshot s;
  s.postoffices.push_back({"example.test", true, {}});
  s.postoffices.push_back({"old.test", true, {}});
  s.mailboxes.push_back({{"alice", "example.test"}, true, kHash, "/data/mail/example.test/alice/Maildir", {}});
  s.mailboxes.push_back({{"zed", "old.test"}, true, kHash, "/data/mail/old.test/zed/Maildir", {}});
  s.services.push_back({"pop3", "pop3", true, {{"port", "1110"}}});
  s.services.push_back({"smtp", "smtp", true, {}});
  s.rules.push_back({"pop3", "deny", "10.0.0.0/8", ""});
  s.rules.push_back({"smtp", "allow", "127.0.0.1", ""});
  return s;
}

// current() with account settings on example.test and alice.
mailroom::storage::ProvisioningSnapshot with_account_settings() {
  auto s = current();
  s.postoffices[0].settings = {{"quota_bytes", "1048576"}};
  s.mailboxes[0].settings = {{"expire_days", "never"}, {"login_delay", "30"}};
  return s;
}

// The file a fresh export of a snapshot gives.
json exported(const mailroom::storage::ProvisioningSnapshot& snap = current()) {
  return pv::export_json(snap, "/data/mail");
}

struct Planned {
  pv::Plan plan;
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const auto& c : plan.changes) out.push_back(c.text);
    return out;
  }
};

Planned plan(const json& file, bool prune, const mailroom::storage::ProvisioningSnapshot& snap = current()) {
  pv::ParsedFile parsed = pv::parse_provisioning_file(file.dump());
  REQUIRE(parsed.problems.empty());
  std::vector<pv::ResolvedPassword> passwords;
  if (parsed.state.mailboxes) {
    for (const auto& m : *parsed.state.mailboxes) {
      bool changed = true;
      for (const auto& c : snap.mailboxes) {
        if (c.address == m.address) changed = m.password_hash != c.password_hash;
      }
      passwords.push_back({m.password_hash.value_or("$6$new$" + std::string(86, 'n')), {}, changed});
    }
  }
  return Planned{pv::plan_changes(snap, parsed.state, passwords, "/data/mail", prune)};
}

}  // namespace

TEST_CASE("an export applied to its own database changes nothing, with or without --prune") {
  CHECK(plan(exported(), false).plan.changes.empty());
  CHECK(plan(exported(), true).plan.changes.empty());
}

TEST_CASE("additions and changes in dependency order; nothing removed without --prune") {
  json f = exported();
  f["postoffices"] = json::array({{{"postoffice", "new.test"}}, {{"postoffice", "example.test"}, {"enabled", false}}});
  f["mailboxes"] = json::array({{{"address", "bob@new.test"}, {"password", "pw"}},
                                {{"address", "alice@example.test"}, {"password_hash", kOtherHash}}});
  f["services"][0]["settings"]["port"] = 110;  // the default, but stored 1110 before
  f["services"][1]["settings"]["port"] = 2525;
  f["access_rules"] = json::array({{{"service", "pop3"}, {"list", "deny"}, {"rule", "10.0.0.0/8"}, {"comment", "c"}},
                                   {{"service", "smtp"}, {"list", "deny"}, {"rule", "192.0.2.1"}}});
  Planned r = plan(f, false);
  CHECK(r.plan.problems.empty());
  CHECK(r.lines() == std::vector<std::string>{
                         "+ postoffice new.test",
                         "~ postoffice example.test enabled true -> false",
                         "~ service pop3 port 1110 -> 110",
                         "~ service smtp port 25 -> 2525",
                         "+ mailbox bob@new.test",
                         "~ mailbox alice@example.test password",
                         "~ access_rule pop3 deny 10.0.0.0/8 comment \"\" -> \"c\"",
                         "+ access_rule smtp deny 192.0.2.1",
                     });
  CHECK(std::holds_alternative<op::AddPostoffice>(r.plan.changes[0].op));
  CHECK(std::get<op::AddMailbox>(r.plan.changes[4].op).maildir == "/data/mail/new.test/bob/Maildir");
  CHECK(r.plan.changes[3].json["to"] == 2525);  // typed by the spec
  // No hash in any line or JSON change.
  for (const auto& c : r.plan.changes) {
    CHECK(c.text.find("$6$") == std::string::npos);
    CHECK(c.json.dump().find("$6$") == std::string::npos);
  }
}

TEST_CASE("--prune removes what the file's sections leave out, dependents first") {
  json f = exported();
  f["postoffices"] = json::array({{{"postoffice", "example.test"}}});
  f["mailboxes"] = json::array({{{"address", "alice@example.test"}, {"password_hash", kHash}}});
  f["services"] = json::array({{{"service", "pop3"}, {"module", "pop3"}}});
  f.erase("access_rules");  // absent: the pop3 rule stays, smtp's goes with its service
  Planned r = plan(f, true);
  CHECK(r.plan.problems.empty());
  CHECK(r.lines() == std::vector<std::string>{
                         "~ service pop3 port 1110 -> 110 (default)",
                         "- access_rule smtp allow 127.0.0.1",
                         "- mailbox zed@old.test (its Maildir is kept: /data/mail/old.test/zed/Maildir)",
                         "- service smtp",
                         "- postoffice old.test",
                     });
  CHECK(plan(f, false).lines() == std::vector<std::string>{});
}

TEST_CASE("what the database would refuse is a problem before any write") {
  json f = exported();
  f["mailboxes"].push_back({{"address", "x@nowhere.test"}, {"password_hash", kHash}});
  f["mailboxes"][0]["maildir"] = "/elsewhere";
  f["services"][0]["module"] = "smtp";
  f["access_rules"].push_back({{"service", "imap"}, {"list", "deny"}, {"rule", "1.2.3.4"}});
  Planned r = plan(f, false);
  std::vector<std::string> paths;
  for (const auto& p : r.plan.problems) paths.push_back(p.path);
  CHECK(paths == std::vector<std::string>{"services[0].module", "mailboxes[0].maildir", "mailboxes[2].address",
                                          "access_rules[2].service"});
}

TEST_CASE("a mailbox whose postoffice --prune removes is refused") {
  json f = exported();
  f["postoffices"] = json::array({{{"postoffice", "example.test"}}});
  Planned r = plan(f, true);
  REQUIRE(r.plan.problems.size() == 1);
  CHECK(r.plan.problems[0].path == "mailboxes[1].address");
  CHECK(r.plan.problems[0].message.find("removed by --prune") != std::string::npos);
}

TEST_CASE("account settings: export is a no-op; set and change always, remove only with --prune") {
  const auto snap = with_account_settings();
  CHECK(plan(exported(snap), false, snap).plan.changes.empty());
  CHECK(plan(exported(snap), true, snap).plan.changes.empty());

  json f = exported(snap);
  f["postoffices"][0]["settings"]["quota_bytes"] = 2097152;
  f["mailboxes"][0]["settings"] = {{"login_delay", 0}, {"quota_messages", 100}};  // expire_days left out
  f["mailboxes"].push_back({{"address", "bob@example.test"}, {"password", "pw"}, {"settings", {{"quota_bytes", 5}}}});
  Planned r = plan(f, false, snap);
  CHECK(r.plan.problems.empty());
  CHECK(r.lines() == std::vector<std::string>{
                         "~ postoffice example.test quota_bytes 1048576 -> 2097152",
                         "~ mailbox alice@example.test login_delay 30 -> 0",  // the default, stored: it overrides
                         "~ mailbox alice@example.test quota_messages (unset) -> 100",
                         "+ mailbox bob@example.test",
                         "~ mailbox bob@example.test quota_bytes (unset) -> 5",  // after the mailbox exists
                     });
  const auto& po = std::get<op::SetPostofficeSetting>(r.plan.changes[0].op);
  CHECK((po.postoffice == "example.test" && po.key == "quota_bytes" && *po.value == "2097152"));
  CHECK(r.plan.changes[1].json == json{{"action", "change"}, {"object", "setting"}, {"address", "alice@example.test"},
                                       {"key", "login_delay"}, {"from", 30}, {"to", 0}});
  CHECK(std::get<op::SetMailboxSetting>(r.plan.changes[4].op).address.str() == "bob@example.test");

  Planned pruned = plan(f, true, snap);
  REQUIRE(pruned.plan.changes.size() == 6);
  CHECK(pruned.lines()[3] == "~ mailbox alice@example.test expire_days \"never\" -> (unset)");
  CHECK(pruned.plan.changes[3].json["from"] == "never");
  CHECK(pruned.plan.changes[3].json["to"].is_null());
  CHECK_FALSE(std::get<op::SetMailboxSetting>(pruned.plan.changes[3].op).value);

  // A file without settings keys: nothing changes, and --prune removes every stored one.
  json bare = exported(snap);
  bare["postoffices"][0].erase("settings");
  for (auto& m : bare["mailboxes"]) m.erase("settings");
  CHECK(plan(bare, false, snap).plan.changes.empty());
  CHECK(plan(bare, true, snap).lines() == std::vector<std::string>{
                                              "~ postoffice example.test quota_bytes 1048576 -> (unset)",
                                              "~ mailbox alice@example.test expire_days \"never\" -> (unset)",
                                              "~ mailbox alice@example.test login_delay 30 -> (unset)",
                                          });
}

TEST_CASE("daemon-wide settings: changed when the file differs, back to the default only with --prune") {
  auto snap = current();
  snap.daemon_settings = {{"log_level", "debug"}, {"mail_root", "/srv/mail"}};
  CHECK(plan(exported(snap), false, snap).plan.changes.empty());
  CHECK(plan(exported(snap), true, snap).plan.changes.empty());  // mail_root is never pruned

  json f = exported(snap);
  f["daemon_settings"] = {{"loops", 2}};
  auto p = plan(f, false, snap);
  CHECK(p.lines() == std::vector<std::string>{"~ daemon loops 0 -> 2"});
  auto* set = std::get_if<op::SetDaemonSetting>(&p.plan.changes.at(0).op);
  REQUIRE(set != nullptr);
  CHECK((set->key == "loops" && set->value == std::optional<std::string>("2")));
  CHECK(p.plan.changes[0].json == json{{"action", "change"}, {"object", "daemon_setting"}, {"key", "loops"},
                                       {"from", 0}, {"to", 2}});

  p = plan(f, true, snap);
  CHECK(p.lines() == std::vector<std::string>{"~ daemon loops 0 -> 2", "~ daemon log_level \"debug\" -> \"info\" (default)"});
  set = std::get_if<op::SetDaemonSetting>(&p.plan.changes.at(1).op);
  REQUIRE(set != nullptr);
  CHECK((set->key == "log_level" && !set->value));

  // A file without the section leaves them alone, --prune included.
  f.erase("daemon_settings");
  CHECK(plan(f, true, snap).plan.changes.empty());
}
