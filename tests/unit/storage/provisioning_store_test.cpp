// ProvisioningStore: the snapshot, and apply as one transaction over accounts (with their
// settings), services and access rules (all or nothing).
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "storage/account_store.h"
#include "storage/policy_store.h"
#include "storage/provisioning.h"
#include "tests/unit/support/temp_dir.h"
#include "tests/unit/support/test_database.h"

namespace st = mailroom::storage;
namespace op = mailroom::storage::provision_op;
using mailroom::ErrorCode;
using mailroom::testing::TempDir;

namespace {

const std::string kHash = "$6$saltsalt$" + std::string(86, 'a');

struct Data {
  TempDir dir{"provisioning"};
  std::unique_ptr<st::AccountStore> accounts;
  Data() {
    auto opened = mailroom::testing::open_account_store(dir.path(), true);
    REQUIRE(opened);
    accounts = std::move(*opened);
    REQUIRE(accounts->ensure_service("pop3", "pop3", true));
  }
  std::unique_ptr<st::ProvisioningStore> store() {
    auto opened = mailroom::testing::open_provisioning_store(dir.path());
    REQUIRE(opened);
    return std::move(*opened);
  }
  std::string maildir(const std::string& mailbox, const std::string& po) {
    return st::default_maildir(dir.path(), st::Address{mailbox, po});
  }
};

}  // namespace

TEST_CASE("apply writes accounts, settings and rules together; the snapshot reads them back") {
  Data d;
  auto store = d.store();
  auto policy = mailroom::testing::open_policy_store(d.dir.path());
  REQUIRE(policy);
  const int64_t generation = *(*policy)->generation();
  std::vector<st::ProvisionOp> ops = {
      op::AddPostoffice{"example.test", true},
      op::SetSetting{"pop3", "port", std::string("1110")},
      op::AddMailbox{{"alice", "example.test"}, false, kHash, d.maildir("alice", "example.test"), {}},
      op::AddRule{{"pop3", "deny", "10.0.0.0/8", "lab"}},
  };
  REQUIRE(store->apply_provisioning(ops));
  auto snap = store->provisioning_snapshot();
  REQUIRE(snap);
  REQUIRE(snap->mailboxes.size() == 1);
  CHECK(snap->mailboxes[0] == st::ProvisionedMailbox{{"alice", "example.test"}, false, kHash,
                                                      d.maildir("alice", "example.test"), {}});
  CHECK(snap->services[0].settings.at("port") == "1110");
  REQUIRE(snap->rules.size() == 1);
  CHECK(snap->rules[0].comment == "lab");
  CHECK(*(*policy)->generation() == generation + 1);  // the daemon reloads the rules
}

TEST_CASE("one refused op rolls every earlier one back") {
  Data d;
  auto store = d.store();
  std::vector<st::ProvisionOp> ops = {
      op::AddPostoffice{"example.test", true},
      op::AddMailbox{{"alice", "example.test"}, true, kHash, d.maildir("alice", "example.test"), {}},
      op::AddRule{{"pop3", "deny", "10.0.0.0/8", ""}},
      op::AddMailbox{{"bob", "missing.test"}, true, kHash, d.maildir("bob", "missing.test"), {}},
  };
  auto st = store->apply_provisioning(ops);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == ErrorCode::kNotFound);
  CHECK(st.error().message.find("adding mailbox bob@missing.test") == 0);
  auto snap = store->provisioning_snapshot();
  REQUIRE(snap);
  CHECK(snap->postoffices.empty());
  CHECK(snap->mailboxes.empty());
  CHECK(snap->rules.empty());
}

TEST_CASE("a Maildir another mailbox uses is refused inside the transaction") {
  Data d;
  TempDir elsewhere("provisioning-maildirs");
  auto store = d.store();
  REQUIRE(store->apply_provisioning({op::AddPostoffice{"example.test", true},
                                     op::AddMailbox{{"alice", "example.test"}, true, kHash, elsewhere.sub("shared"), {}}}));
  auto st = store->apply_provisioning(
      {op::AddMailbox{{"bob", "example.test"}, true, kHash, elsewhere.sub("shared") + "/inner", {}}});
  REQUIRE_FALSE(st);
  CHECK(st.error().code == ErrorCode::kInUse);
}

TEST_CASE("removals: a password change drops the derived secrets; a removed service takes its rules") {
  Data d;
  auto store = d.store();
  REQUIRE(store->apply_provisioning({op::AddPostoffice{"example.test", true},
                                     op::AddMailbox{{"alice", "example.test"}, true, kHash,
                                                    d.maildir("alice", "example.test"),
                                                    {{"scram-sha-256", "SCRAM-SHA-256$x", false}}},
                                     op::AddRule{{"pop3", "allow", "127.0.0.1", ""}}}));
  CHECK(d.accounts->get_mailbox({"alice", "example.test"})->secret_kinds == std::vector<std::string>{"scram-sha-256"});
  REQUIRE(store->apply_provisioning({op::SetPassword{{"alice", "example.test"}, kHash, {}}}));
  CHECK(d.accounts->get_mailbox({"alice", "example.test"})->secret_kinds.empty());
  REQUIRE(store->apply_provisioning({op::RemoveRule{{"pop3", "allow", "127.0.0.1", ""}},
                                     op::RemoveMailbox{{"alice", "example.test"}},
                                     op::RemoveService{"pop3"}, op::RemovePostoffice{"example.test"}}));
  auto snap = store->provisioning_snapshot();
  REQUIRE(snap);
  CHECK(snap->postoffices.empty());
  CHECK(snap->services.empty());
  CHECK(snap->rules.empty());
}

TEST_CASE("account settings: a mailbox added by the same apply gets its own; nullopt removes one") {
  Data d;
  auto store = d.store();
  REQUIRE(store->apply_provisioning({
      op::AddPostoffice{"example.test", true},
      op::SetPostofficeSetting{"example.test", "quota_bytes", std::string("1048576")},
      op::AddMailbox{{"alice", "example.test"}, true, kHash, d.maildir("alice", "example.test"), {}},
      op::SetMailboxSetting{{"alice", "example.test"}, "login_delay", std::string("30")},
      op::SetMailboxSetting{{"alice", "example.test"}, "expire_days", std::string("never")},
  }));
  auto snap = store->provisioning_snapshot();
  REQUIRE(snap);
  CHECK(snap->postoffices[0].settings == std::map<std::string, std::string>{{"quota_bytes", "1048576"}});
  CHECK(snap->mailboxes[0].settings ==
        std::map<std::string, std::string>{{"expire_days", "never"}, {"login_delay", "30"}});

  REQUIRE(store->apply_provisioning({op::SetMailboxSetting{{"alice", "example.test"}, "login_delay", std::nullopt},
                                     op::SetPostofficeSetting{"example.test", "quota_bytes", std::string("5")}}));
  snap = store->provisioning_snapshot();
  REQUIRE(snap);
  CHECK(snap->postoffices[0].settings.at("quota_bytes") == "5");
  CHECK(snap->mailboxes[0].settings == std::map<std::string, std::string>{{"expire_days", "never"}});

  // Removing what is not stored (the database changed since the plan) rolls the apply back.
  auto st = store->apply_provisioning({op::SetPostofficeSetting{"example.test", "quota_bytes", std::nullopt},
                                       op::SetMailboxSetting{{"alice", "example.test"}, "login_delay", std::nullopt}});
  REQUIRE_FALSE(st);
  CHECK(st.error().message == "setting login_delay of mailbox alice@example.test: the setting is not set");
  snap = store->provisioning_snapshot();
  REQUIRE(snap);
  CHECK(snap->postoffices[0].settings.at("quota_bytes") == "5");
}

TEST_CASE("daemon-wide settings: in the snapshot without secrets, set and removed inside the transaction") {
  Data d;
  REQUIRE(d.accounts->set_daemon_setting("log_level", std::string("debug")));
  REQUIRE(d.accounts->set_daemon_setting("smarthost_password", std::string("hunter2")));
  auto store = d.store();
  auto snap = store->provisioning_snapshot();
  REQUIRE(snap);
  CHECK(snap->daemon_settings == std::map<std::string, std::string>{{"log_level", "debug"}});

  REQUIRE(store->apply_provisioning({op::SetDaemonSetting{"loops", std::string("2")},
                                     op::SetDaemonSetting{"log_level", std::nullopt}}));
  auto stored = d.accounts->daemon_settings();
  REQUIRE(stored);
  CHECK(*stored == std::map<std::string, std::string>{{"loops", "2"}, {"smarthost_password", "hunter2"}});

  // A secret is refused, and takes the whole apply with it.
  auto refused = store->apply_provisioning({op::SetDaemonSetting{"loops", std::string("3")},
                                            op::SetDaemonSetting{"smarthost_password", std::string("x")}});
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("setting daemon smarthost_password") != std::string::npos);
  stored = d.accounts->daemon_settings();
  REQUIRE(stored);
  CHECK(stored->at("loops") == "2");
  CHECK(stored->at("smarthost_password") == "hunter2");
}
