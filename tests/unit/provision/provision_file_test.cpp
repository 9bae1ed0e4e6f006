// The provisioning file: every value checked, problems named by their path; and the export.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin-cli/provision/provision_file.h"

namespace pv = mailroom::cli::provision;
using json = nlohmann::ordered_json;

namespace {

const std::string kHash = "$6$saltsalt$" + std::string(86, 'a');

json base_file() {
  return json::parse(R"({
    "version": 1,
    "postoffices": [{"postoffice": "Example.TEST", "enabled": true}],
    "mailboxes": [
      {"address": "alice@example.test", "password_hash": "{SHA512-CRYPT})" + kHash + R"("},
      {"address": "bob@example.test", "password": "pw-bob", "enabled": false, "maildir": "/srv/mail/bob//Maildir/"}
    ],
    "services": [{"service": "pop3", "module": "pop3", "settings": {"port": 1110, "apop": true, "banner": "hi"}}],
    "access_rules": [{"service": "pop3", "list": "deny", "rule": "10.0.0.*", "comment": "lab"}]
  })");
}

std::vector<std::string> paths(const pv::ParsedFile& parsed) {
  std::vector<std::string> out;
  for (const auto& p : parsed.problems) out.push_back(p.path);
  return out;
}

}  // namespace

TEST_CASE("a valid file is read into canonical values") {
  pv::ParsedFile parsed = pv::parse_provisioning_file(base_file().dump());
  REQUIRE(parsed.problems.empty());
  const auto& s = parsed.state;
  REQUIRE(s.postoffices);
  CHECK(s.postoffices->at(0).name == "example.test");
  REQUIRE(s.mailboxes->size() == 2);
  CHECK(*s.mailboxes->at(0).password_hash == kHash);  // the {SCHEME} prefix is dropped, as the store keeps it
  CHECK_FALSE(s.mailboxes->at(0).maildir);
  CHECK(*s.mailboxes->at(1).password == "pw-bob");
  CHECK_FALSE(s.mailboxes->at(1).enabled);
  CHECK(*s.mailboxes->at(1).maildir == "/srv/mail/bob/Maildir");
  CHECK(s.services->at(0).settings.at("port") == "1110");
  CHECK(s.services->at(0).settings.at("apop") == "on");
  CHECK(s.access_rules->at(0).rule.rule == "10.0.0.0/24");
  CHECK(s.access_rules->at(0).rule.comment == "lab");
}

TEST_CASE("absent sections stay absent (nothing to prune there)") {
  pv::ParsedFile parsed = pv::parse_provisioning_file(R"({"version": 1, "mailboxes": []})");
  REQUIRE(parsed.problems.empty());
  CHECK_FALSE(parsed.state.postoffices);
  CHECK(parsed.state.mailboxes);
  CHECK_FALSE(parsed.state.services);
  CHECK_FALSE(parsed.state.access_rules);
}

TEST_CASE("malformed JSON is one problem for the whole file") {
  pv::ParsedFile parsed = pv::parse_provisioning_file("{\"version\": 1, \"mailboxes\": [");
  REQUIRE(parsed.problems.size() == 1);
  CHECK(parsed.problems[0].path.empty());
  CHECK(parsed.problems[0].message.find("not valid JSON at line 1, column ") == 0);
}

TEST_CASE("a JSON syntax error never quotes the file (it may hold a password)") {
  pv::ParsedFile parsed =
      pv::parse_provisioning_file("{\"version\": 1,\n \"mailboxes\": [{\"password\": \"s3cret-pw\nx\"}]}");
  REQUIRE(parsed.problems.size() == 1);
  CHECK(parsed.problems[0].message.find("line 2") != std::string::npos);
  CHECK(parsed.problems[0].message.find("s3cret") == std::string::npos);
}

TEST_CASE("the version is required and must be 1") {
  CHECK(paths(pv::parse_provisioning_file("{}")) == std::vector<std::string>{"version"});
  CHECK(paths(pv::parse_provisioning_file(R"({"version": 2})")) == std::vector<std::string>{"version"});
}

TEST_CASE("every bad value is named by its path") {
  json f = base_file();
  f["mailboxes"].push_back({{"address", "carol@example.test"}, {"password_hash", "$6$short"}});
  f["mailboxes"].push_back({{"address", "bad@@example.test"}, {"password", "x"}});
  f["mailboxes"].push_back({{"address", "dave@example.test"}});
  f["mailboxes"].push_back({{"address", "erin@example.test"}, {"password", "a"}, {"password_hash", kHash}});
  f["mailboxes"].push_back({{"address", "alice@example.test"}, {"password", "a"}});
  f["mailboxes"].push_back({{"address", "frank@example.test"}, {"password", "a"}, {"maildir", "relative/dir"}});
  f["mailboxes"].push_back({{"address", "gina@example.test"}, {"password", "a"}, {"colour", "red"}});
  f["mailboxes"].push_back({{"address", "hal@example.test"}, {"password", "a\r\nb"}});
  f["services"][0]["settings"]["port"] = 0;
  f["services"][0]["settings"]["no_such_key"] = 1;
  f["services"].push_back({{"service", "x"}, {"module", "nntp"}});
  f["access_rules"].push_back({{"service", "pop3"}, {"list", "maybe"}, {"rule", "10.0.0.1"}});
  f["access_rules"].push_back({{"service", "pop3"}, {"list", "allow"}, {"rule", "300.0.0.1"}});
  f["access_rules"].push_back({{"service", "pop3"}, {"list", "deny"}, {"rule", "10.0.0.0/24"}});
  f["access_rules"].push_back({{"service", "pop3"}, {"list", "allow"}, {"rule", "1.2.3.4"}, {"comment", std::string(201, 'c')}});
  f["postoffices"].push_back({{"postoffice", "bad_name"}});
  pv::ParsedFile parsed = pv::parse_provisioning_file(f.dump());
  CHECK(paths(parsed) == std::vector<std::string>{
                             "postoffices[1].postoffice",
                             "mailboxes[2].password_hash",
                             "mailboxes[3].address",
                             "mailboxes[4]",
                             "mailboxes[5]",
                             "mailboxes[6].address",
                             "mailboxes[7].maildir",
                             "mailboxes[8].colour",
                             "mailboxes[9].password",
                             "services[0].settings.port",
                             "services[0].settings.no_such_key",
                             "services[1].module",
                             "access_rules[1].list",
                             "access_rules[2].rule",
                             "access_rules[3].rule",
                             "access_rules[4].comment",
                         });
  // The message never carries the password.
  for (const auto& p : parsed.problems) CHECK(p.message.find("a\r\nb") == std::string::npos);
  const std::string summary = pv::problems_summary(parsed.problems);
  CHECK(summary.find("postoffices[1].postoffice: ") == 0);
  CHECK(summary.find("(and 15 more problems)") != std::string::npos);
}

TEST_CASE("setting values are typed by their spec, strings in mailctl's form accepted") {
  json f = base_file();
  f["services"][0]["settings"] = {{"port", "995"}, {"apop", "off"}, {"banner", 5}};
  pv::ParsedFile parsed = pv::parse_provisioning_file(f.dump());
  CHECK(paths(parsed) == std::vector<std::string>{"services[0].settings.banner"});
  f["services"][0]["settings"] = {{"port", true}};
  CHECK(paths(pv::parse_provisioning_file(f.dump())) == std::vector<std::string>{"services[0].settings.port"});
}

TEST_CASE("export writes typed settings, default maildirs left out, and reads back unchanged") {
  mailroom::storage::ProvisioningSnapshot snap;
  snap.postoffices.push_back({"example.test", false, {}});
  snap.mailboxes.push_back({{"alice", "example.test"}, true, kHash, "/data/mail/example.test/alice/Maildir", {}});
  snap.mailboxes.push_back({{"bob", "example.test"}, false, kHash, "/srv/bob", {}});
  snap.services.push_back({"pop3", "pop3", true, {{"port", "1110"}, {"apop", "on"}, {"banner", "x"}}});
  snap.rules.push_back({"pop3", "deny", "10.0.0.0/8", "lab"});
  json out = pv::export_json(snap, "/data/mail");
  CHECK(out["version"] == 1);
  CHECK_FALSE(out["mailboxes"][0].contains("maildir"));
  CHECK(out["mailboxes"][1]["maildir"] == "/srv/bob");
  CHECK(out["services"][0]["settings"]["port"] == 1110);
  CHECK(out["services"][0]["settings"]["apop"] == true);
  CHECK(out["services"][0]["settings"]["banner"] == "x");
  pv::ParsedFile parsed = pv::parse_provisioning_file(out.dump());
  REQUIRE(parsed.problems.empty());
  CHECK(parsed.state.services->at(0).settings == snap.services[0].settings);
}

TEST_CASE("account settings are read typed and checked against the catalog, named by their path") {
  json f = base_file();
  f["postoffices"][0]["settings"] = {{"quota_bytes", 1048576}, {"expire_days", "30"}};
  f["mailboxes"][0]["settings"] = {{"login_delay", "60"}, {"quota_messages", 0}};
  pv::ParsedFile parsed = pv::parse_provisioning_file(f.dump());
  REQUIRE(parsed.problems.empty());
  CHECK(parsed.state.postoffices->at(0).settings ==
        std::map<std::string, std::string>{{"expire_days", "30"}, {"quota_bytes", "1048576"}});
  CHECK(parsed.state.mailboxes->at(0).settings ==
        std::map<std::string, std::string>{{"login_delay", "60"}, {"quota_messages", "0"}});
  CHECK(parsed.state.mailboxes->at(1).settings.empty());  // absent: none given

  f["postoffices"][0]["settings"] = {{"quota_byte", 1}};
  f["mailboxes"][0]["settings"] = {{"quota_bytes", -1}, {"expire_days", "sometimes"}, {"login_delay", true}};
  f["mailboxes"][1]["settings"] = json::array();
  parsed = pv::parse_provisioning_file(f.dump());
  CHECK(paths(parsed) == std::vector<std::string>{"postoffices[0].settings.quota_byte",
                                                  "mailboxes[0].settings.quota_bytes",
                                                  "mailboxes[0].settings.expire_days",
                                                  "mailboxes[0].settings.login_delay", "mailboxes[1].settings"});
  CHECK(parsed.problems[0].message.find("known: login_delay, expire_days, quota_bytes, quota_messages") !=
        std::string::npos);
  CHECK(parsed.state.postoffices->empty());  // a bad entry is not taken
}

TEST_CASE("export writes every postoffice's and mailbox's account settings, typed, {} when none") {
  mailroom::storage::ProvisioningSnapshot snap;
  snap.postoffices.push_back({"example.test", true, {{"quota_bytes", "1048576"}}});
  snap.mailboxes.push_back({{"alice", "example.test"}, true, kHash, "/data/mail/example.test/alice/Maildir",
                            {{"expire_days", "7"}, {"login_delay", "30"}}});
  snap.mailboxes.push_back({{"bob", "example.test"}, true, kHash, "/data/mail/example.test/bob/Maildir", {}});
  json out = pv::export_json(snap, "/data/mail");
  CHECK(out["postoffices"][0]["settings"] == json{{"quota_bytes", 1048576}});
  CHECK(out["mailboxes"][0]["settings"] == json{{"expire_days", "7"}, {"login_delay", 30}});
  CHECK(out["mailboxes"][1]["settings"] == json::object());
  pv::ParsedFile parsed = pv::parse_provisioning_file(out.dump());
  REQUIRE(parsed.problems.empty());
  CHECK(parsed.state.postoffices->at(0).settings == snap.postoffices[0].settings);
  CHECK(parsed.state.mailboxes->at(0).settings == snap.mailboxes[0].settings);
}

TEST_CASE("daemon-wide settings: exported typed without secrets or mail_root, read back checked by path") {
  mailroom::storage::ProvisioningSnapshot snap;
  // smarthost_password is sealed in the database: a snapshot never holds it. mail_root is read
  // but never exported.
  snap.daemon_settings = {{"log_level", "debug"}, {"loops", "2"}, {"smarthost_tls_verify", "off"},
                          {"mail_root", "/srv/mail"}, {"no_longer_known", "x"}};
  json out = pv::export_json(snap, "/data/mail");
  CHECK(out["daemon_settings"] == json{{"log_level", "debug"}, {"loops", 2}, {"smarthost_tls_verify", false}});
  pv::ParsedFile parsed = pv::parse_provisioning_file(out.dump());
  REQUIRE(parsed.problems.empty());
  REQUIRE(parsed.state.daemon_settings.has_value());
  CHECK(*parsed.state.daemon_settings ==
        std::map<std::string, std::string>{{"log_level", "debug"}, {"loops", "2"}, {"smarthost_tls_verify", "off"}});

  // Absent: left alone (nullopt), not "none".
  CHECK_FALSE(pv::parse_provisioning_file(base_file().dump()).state.daemon_settings.has_value());

  json f = base_file();
  f["daemon_settings"] = {{"loops", "many"}, {"log_levl", "info"}, {"smarthost_password", "hunter2"},
                          {"mail_root", "/srv/mail"}};
  parsed = pv::parse_provisioning_file(f.dump());
  std::vector<std::string> problem_paths = paths(parsed);
  std::sort(problem_paths.begin(), problem_paths.end());
  CHECK(problem_paths == std::vector<std::string>{"daemon_settings.log_levl", "daemon_settings.loops",
                                                  "daemon_settings.mail_root", "daemon_settings.smarthost_password"});
  CHECK_FALSE(parsed.state.daemon_settings.has_value());
  for (const auto& p : parsed.problems) CHECK(p.message.find("hunter2") == std::string::npos);
  f["daemon_settings"] = json::array();
  CHECK(paths(pv::parse_provisioning_file(f.dump())) == std::vector<std::string>{"daemon_settings"});
}
