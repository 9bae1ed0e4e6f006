// The diff of an apply: what changes, in which order, and what is refused before any write.
#include <doctest/doctest.h>

#include <string>
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
  s.postoffices.push_back({"example.test", true});
  s.postoffices.push_back({"old.test", true});
  s.mailboxes.push_back({{"alice", "example.test"}, true, kHash, "/data/mail/example.test/alice/Maildir"});
  s.mailboxes.push_back({{"zed", "old.test"}, true, kHash, "/data/mail/old.test/zed/Maildir"});
  s.services.push_back({"pop3", "pop3", true, {{"port", "1110"}}});
  s.services.push_back({"smtp", "smtp", true, {}});
  s.rules.push_back({"pop3", "deny", "10.0.0.0/8", ""});
  s.rules.push_back({"smtp", "allow", "127.0.0.1", ""});
  return s;
}

// The file a fresh export of current() gives, parsed.
json exported() { return pv::export_json(current(), "/data"); }

struct Planned {
  pv::Plan plan;
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const auto& c : plan.changes) out.push_back(c.text);
    return out;
  }
};

Planned plan(const json& file, bool prune) {
  pv::ParsedFile parsed = pv::parse_provisioning_file(file.dump());
  REQUIRE(parsed.problems.empty());
  std::vector<pv::ResolvedPassword> passwords;
  const auto snap = current();
  if (parsed.state.mailboxes) {
    for (const auto& m : *parsed.state.mailboxes) {
      bool changed = true;
      for (const auto& c : snap.mailboxes) {
        if (c.address == m.address) changed = m.password_hash != c.password_hash;
      }
      passwords.push_back({m.password_hash.value_or("$6$new$" + std::string(86, 'n')), {}, changed});
    }
  }
  return Planned{pv::plan_changes(snap, parsed.state, passwords, "/data", prune)};
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
