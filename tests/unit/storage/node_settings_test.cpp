// Node-local settings (DATA/node.json): parse, refuse bad keys and values, merge, the file.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <fstream>
#include <string>
#include <vector>

#include "core/config/network_settings.h"
#include "core/config/tls_settings.h"
#include "storage/node/node_settings.h"
#include "storage/node/node_settings_file.h"
#include "tests/unit/support/temp_dir.h"

namespace st = mailroom::storage;
namespace cfg = mailroom::config;
using mailroom::ErrorCode;
using mailroom::testing::TempDir;

namespace {

cfg::SettingsCatalog service_catalog() {
  cfg::SettingsCatalog catalog(cfg::network_setting_specs(110));
  for (auto& spec : cfg::tls_setting_specs(995)) catalog.add(std::move(spec));
  return catalog;
}

std::string error_of(std::string_view text) {
  auto parsed = st::parse_node_settings(text);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.error().code == ErrorCode::kInvalidArgument);
  return parsed.error().message;
}

}  // namespace

TEST_CASE("node settings: parse typed values per service") {
  auto parsed = st::parse_node_settings(
      R"({"services": {"pop3": {"port": 1110, "binds": "127.0.0.1"}, "smtp": {"tls_port": 4650}, "lmtp": {}}})");
  REQUIRE(parsed.ok());
  CHECK(parsed->services.size() == 2);  // an empty service object is no entry
  CHECK(parsed->services.at("pop3").at("port") == "1110");
  CHECK(parsed->services.at("pop3").at("binds") == "127.0.0.1");
  CHECK(parsed->services.at("smtp").at("tls_port") == "4650");
}

TEST_CASE("node settings: text round trip, ints as numbers") {
  st::NodeSettings s;
  s.services["pop3"]["port"] = "1110";
  s.services["pop3"]["tls_binds"] = "[::1]:9995";
  const std::string text = st::node_settings_text(s);
  CHECK(text.find("\"port\": 1110") != std::string::npos);
  CHECK(text.find("\"tls_binds\": \"[::1]:9995\"") != std::string::npos);
  auto back = st::parse_node_settings(text);
  REQUIRE(back.ok());
  CHECK(*back == s);
  CHECK(st::node_settings_text(st::NodeSettings{}).find("\"services\": {}") != std::string::npos);
}

TEST_CASE("node settings: bad files are refused naming what is wrong") {
  CHECK(error_of("{").find("not valid JSON") != std::string::npos);
  CHECK(error_of("[]").find("JSON object") != std::string::npos);
  CHECK(error_of(R"({"database": "x"})").find("unknown key \"database\"") != std::string::npos);
  CHECK(error_of(R"({"services": []})").find("\"services\" must be an object") != std::string::npos);
  CHECK(error_of(R"({"services": {"pop3": 5}})").find("services.pop3 must be an object") != std::string::npos);
  const std::string cluster = error_of(R"({"services": {"pop3": {"idle_timeout": 5}}})");
  CHECK(cluster.find("services.pop3.idle_timeout") != std::string::npos);
  CHECK(cluster.find("cluster-wide") != std::string::npos);
  CHECK(cluster.find("port, alt_port, binds, tls_port, tls_binds") != std::string::npos);
  CHECK(error_of(R"({"services": {"pop3": {"port": "1110"}}})").find("services.pop3.port must be a whole number") !=
        std::string::npos);
  CHECK(error_of(R"({"services": {"pop3": {"binds": 5}}})").find("services.pop3.binds must be a string") !=
        std::string::npos);
}

TEST_CASE("node settings: only listener keys are node-local") {
  for (const auto& key : cfg::node_local_setting_keys()) CHECK(st::check_node_local_key(key).ok());
  auto refused = st::check_node_local_key("max_connections");
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kInvalidArgument);
  CHECK(refused.error().message.find("'max_connections' is a cluster-wide setting") != std::string::npos);
}

TEST_CASE("node settings: merge over the cluster's values, bad local values left out") {
  const auto catalog = service_catalog();
  std::vector<std::string> warnings;
  const std::map<std::string, std::string> stored = {{"port", "2110"}, {"max_connections", "10"}};
  auto merged = st::merge_node_settings(catalog, "pop3", stored, {{"port", "3110"}, {"binds", "127.0.0.1"}}, warnings);
  CHECK(warnings.empty());
  CHECK(merged.at("port") == "3110");
  CHECK(merged.at("binds") == "127.0.0.1");
  CHECK(merged.at("max_connections") == "10");

  merged = st::merge_node_settings(catalog, "pop3", stored, {{"port", "70000"}, {"tls_binds", "not an address!"}},
                                   warnings);
  CHECK(merged.at("port") == "2110");  // the cluster's value applies
  CHECK(merged.count("tls_binds") == 0);
  REQUIRE(warnings.size() == 2);
  CHECK(warnings[0].find("node.json: pop3 port:") == 0);
  CHECK(warnings[0].find("cluster's value applies") != std::string::npos);
  CHECK(warnings[1].find("node.json: pop3 tls_binds:") == 0);

  // A catalog without TLS settings (a module without them) does not take tls_port.
  warnings.clear();
  cfg::SettingsCatalog plain(cfg::network_setting_specs(25));
  merged = st::merge_node_settings(plain, "smtp", {}, {{"tls_port", "465"}}, warnings);
  CHECK(merged.empty());
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0].find("not a node-local setting of this service") != std::string::npos);
}

TEST_CASE("node settings file: missing is empty, written 0600 and read back, damage named") {
  TempDir dir;
  auto none = st::read_node_settings(dir.path());
  REQUIRE(none.ok());
  CHECK(none->services.empty());

  st::NodeSettings s;
  s.services["pop3"]["port"] = "1110";
  REQUIRE(st::write_node_settings(dir.path(), s).ok());
  struct stat info {};
  REQUIRE(::stat(st::node_settings_path(dir.path()).c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
  auto back = st::read_node_settings(dir.path());
  REQUIRE(back.ok());
  CHECK(*back == s);

  std::ofstream(st::node_settings_path(dir.path())) << R"({"services": {"pop3": {"max_connections": 1}}})";
  auto damaged = st::read_node_settings(dir.path());
  REQUIRE_FALSE(damaged.ok());
  CHECK(damaged.error().message.find(st::node_settings_path(dir.path()) + ": services.pop3.max_connections") ==
        0);
}
