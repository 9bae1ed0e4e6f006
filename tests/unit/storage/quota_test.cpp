// Quotas: the settings' resolution, the delivery check, and MailStore::usage() against the
// listing POP3 shows (index, cache, deletions).
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "storage/account_store.h"
#include "storage/mail_store.h"
#include "storage/maildir/maildir_store.h"
#include "storage/maildir/maildir_usage.h"
#include "storage/quota.h"
#include "tests/unit/support/temp_dir.h"

using namespace mailroom;
using namespace mailroom::storage;
using namespace std::chrono_literals;

namespace {

MailboxUsage listing_usage(MailStore& store, const std::string& dir) {
  auto drop = store.open(dir);
  REQUIRE(drop.ok());
  MailboxUsage u;
  for (const auto& m : (*drop)->messages()) {
    ++u.messages;
    u.bytes += m.size;
  }
  return u;
}

bool same(const MailboxUsage& a, const MailboxUsage& b) { return a.messages == b.messages && a.bytes == b.bytes; }

}  // namespace

TEST_CASE("quota: a mailbox's own value wins over its postoffice's; 0 is no limit") {
  MailboxInfo m;
  CHECK_FALSE(mailbox_quota(m).limited());
  m.postoffice_settings = {{"quota_bytes", "5000"}, {"quota_messages", "10"}};
  CHECK(mailbox_quota(m) == Quota{5000, 10});
  m.settings = {{"quota_bytes", "0"}};
  CHECK(mailbox_quota(m) == Quota{std::nullopt, 10});
  m.settings = {{"quota_bytes", "7000"}, {"quota_messages", "3"}};
  CHECK(mailbox_quota(m) == Quota{7000, 3});
  CHECK(quota_from_settings({{"quota_messages", "4"}}) == Quota{std::nullopt, 4});
}

TEST_CASE("quota_refusal: full at or over a limit, and a message that would not fit") {
  const Quota q{1000, 3};
  CHECK_FALSE(quota_refusal(q, {2, 900}, std::nullopt));
  CHECK_FALSE(quota_refusal(q, {2, 900}, 100));
  CHECK(*quota_refusal(q, {2, 900}, 101) ==
        "message of 101 octets exceeds the mailbox quota: 900 of 1000 octets used");
  CHECK(*quota_refusal(q, {3, 10}, std::nullopt) == "mailbox full: 3 of 3 messages");
  CHECK(*quota_refusal(q, {1, 1000}, std::nullopt) == "mailbox full: 1000 of 1000 octets used");
  CHECK(*quota_refusal(q, {1, 5000}, 1) == "mailbox full: 5000 of 1000 octets used");
  CHECK_FALSE(quota_refusal(Quota{}, {1000000, 1ull << 40}, 1ull << 40));
  CHECK_FALSE(quota_refusal(Quota{std::nullopt, 3}, {2, 1ull << 40}, 1ull << 40));
}

TEST_CASE("usage: count and wire octets as POP3 lists them, after deliveries and deletions") {
  mailroom::testing::TempDir tmp;
  auto store = maildir::make_store({true, 0ns});
  const std::string dir = tmp.path() + "/box";
  REQUIRE(store->create_maildir(dir).ok());
  auto empty = store->usage(dir);
  REQUIRE(empty.ok());
  CHECK(same(*empty, {0, 0}));
  REQUIRE(store->deliver(dir, "Subject: a\n\nbody\n").ok());  // 20 octets on the wire
  REQUIRE(store->deliver(dir, "Subject: b\r\n\r\nline\r\nline\r\n").ok());
  auto two = store->usage(dir);
  REQUIRE(two.ok());
  CHECK(two->messages == 2);
  CHECK(two->bytes == 20 + 26);
  CHECK(same(*two, listing_usage(*store, dir)));
  CHECK(same(*store->usage(dir), *two));  // unchanged: from memory, the same answer

  // Marked deleted by an open session: still there (and counted) until the commit.
  auto drop = store->open(dir);
  REQUIRE(drop.ok());
  CHECK(same(*store->usage(dir), *two));
  REQUIRE((*drop)->commit_deletions({0}).ok());
  auto one = store->usage(dir);
  REQUIRE(one.ok());
  CHECK(one->messages == 1);
  CHECK(one->bytes == 26);

  // Another process (a file moved in by hand) changes the folders' stamps: seen at once.
  {
    std::ofstream(dir + "/new/1700000000.M1P1.host") << "x\n";
  }
  CHECK(store->usage(dir)->messages == 2);
  CHECK(store->usage(tmp.path() + "/missing").error().code == ErrorCode::kNotFound);
  maildir::forget_usage_cache();
}
