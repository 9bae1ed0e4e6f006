// Issue 18's pure helpers: the EXPIRE plan, the LOGIN-DELAY table, TOP's missing blank line, the
// new settings (login_delay, expire_days, nul_bytes ...).
#include <doctest/doctest.h>

#include "modules/pop3/expiry.h"
#include "modules/pop3/login_delay_table.h"
#include "modules/pop3/pop3_settings.h"
#include "modules/pop3/top_filter.h"

using namespace mailroom;
using namespace mailroom::pop3;

namespace {
std::vector<storage::MessageInfo> listing() { return {{"a", 10, "/m/a"}, {"b", 20, "/m/b"}, {"c", 30, "/m/c"}}; }
}  // namespace

TEST_CASE("plan_expiry: stamps first retrievals, expires at exactly expire_days, drops what is gone") {
  const int64_t day = kSecondsPerDay, now = 100 * day;
  const storage::Retrievals before{{"a", now - 3 * day}, {"b", now - 3 * day + 1}, {"zz", 1}};
  ExpiryPlan plan = plan_expiry(before, listing(), {false, false, false}, {false, false, true}, now, 3);
  CHECK(plan.expired == std::vector<std::size_t>{0});  // 3 days to the second
  CHECK(plan.record == storage::Retrievals{{"b", now - 3 * day + 1}, {"c", now}});
  // A DELE'd message is neither expired nor kept.
  plan = plan_expiry(before, listing(), {true, false, false}, {}, now, 3);
  CHECK(plan.expired.empty());
  CHECK(plan.record == storage::Retrievals{{"b", now - 3 * day + 1}});
  // 0 days: what was retrieved now goes now; never-retrieved messages stay out of the record.
  plan = plan_expiry({}, listing(), {false, false, false}, {true, false, false}, now, 0);
  CHECK(plan.expired == std::vector<std::size_t>{0});
  CHECK(plan.record.empty());
}

TEST_CASE("LoginDelayTable: waits out the delay, records only logins, forgets old entries") {
  LoginDelayTable t;
  CHECK(t.wait_seconds("bob@x.test", 1000, 60) == 0);
  t.record("bob@x.test", 1000, 60);
  CHECK(t.wait_seconds("bob@x.test", 1001, 60) == 59);
  CHECK(t.wait_seconds("bob@x.test", 1059, 60) == 1);
  CHECK(t.wait_seconds("bob@x.test", 1060, 60) == 0);
  CHECK(t.wait_seconds("bob@x.test", 1001, 0) == 0);     // no delay for this mailbox (any more)
  CHECK(t.wait_seconds("alice@x.test", 1001, 60) == 0);  // per mailbox
  // Bounded: once the table is large, entries older than the largest delay are swept.
  for (int i = 0; i < 1100; ++i) t.record("m" + std::to_string(i) + "@x.test", 5000, 60);
  CHECK(t.size() == 1100);  // the sweep at 1024 entries dropped bob's login (4000 s old)
  for (int i = 0; i < 1100; ++i) t.record("n" + std::to_string(i) + "@x.test", 5100, 60);
  CHECK(t.size() == 1100);  // the m* logins (100 s ago, delay 60) and bob's are gone
  CHECK(t.wait_seconds("n5@x.test", 5130, 60) == 30);
}

TEST_CASE("TOP adds the missing blank line only with the workaround, and only when there was none") {
  for (bool add : {false, true}) {
    CAPTURE(add);
    TopFilter headers_only(5, add);
    std::string out;
    headers_only.feed("Subject: hi\r\nFrom: a@b\r\n", out);
    headers_only.finish(out);
    CHECK(out == (add ? "Subject: hi\r\nFrom: a@b\r\n\r\n" : "Subject: hi\r\nFrom: a@b\r\n"));
    TopFilter normal(0, add);
    out.clear();
    normal.feed("Subject: hi\r\n\r\nbody\r\n", out);
    normal.finish(out);
    CHECK(out == "Subject: hi\r\n\r\n");
  }
}

TEST_CASE("issue 18 settings: defaults and validation") {
  const auto& catalog = pop3_settings_catalog();
  auto defaults = config::ServiceSettings::build(catalog, {});
  REQUIRE(defaults.ok());
  CHECK(defaults->get_int("login_delay") == 0);
  CHECK(defaults->get_string("expire_days") == "never");
  CHECK(defaults->get_bool("auth_list_bare"));
  CHECK(defaults->get_string("nul_bytes") == "keep");
  CHECK_FALSE(defaults->get_bool("top_add_blank_line"));
  CHECK_FALSE(defaults->get_bool("last_command"));
  CHECK(config::ServiceSettings::build(catalog, {{"expire_days", "30"}, {"nul_bytes", "0x80"}}).ok());
  CHECK_FALSE(config::ServiceSettings::build(catalog, {{"expire_days", "soon"}}).ok());
  CHECK_FALSE(config::ServiceSettings::build(catalog, {{"nul_bytes", "strip"}}).ok());
  CHECK(nul_replacement("keep") == std::nullopt);
  CHECK(nul_replacement("0x80") == static_cast<char>(0x80));
  CHECK(nul_replacement("space") == ' ');
}
