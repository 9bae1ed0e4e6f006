// Tests for the relay's settings: the backoff between attempts.
#include <doctest/doctest.h>

#include "core/config/daemon_settings.h"
#include "relay/relay_settings.h"

TEST_CASE("retry_delay: queue_retry_min doubled per attempt, capped at queue_retry_max") {
  mailroom::relay::RelaySettings s;
  s.retry_min = 60;
  s.retry_max = 3600;
  CHECK(mailroom::relay::retry_delay(s, 1) == 60);
  CHECK(mailroom::relay::retry_delay(s, 2) == 120);
  CHECK(mailroom::relay::retry_delay(s, 6) == 1920);
  CHECK(mailroom::relay::retry_delay(s, 7) == 3600);
  CHECK(mailroom::relay::retry_delay(s, 4000000000u) == 3600);
}

TEST_CASE("RelaySettings from the daemon-wide settings: host and port split, TLS mode, defaults") {
  using mailroom::config::ServiceSettings;
  auto defaults = ServiceSettings::build(mailroom::config::daemon_settings_catalog(), {});
  REQUIRE(defaults.ok());
  auto none = mailroom::relay::RelaySettings::from(*defaults);
  CHECK_FALSE(none.has_smarthost());
  CHECK(none.starttls);
  CHECK(none.tls_verify);
  CHECK(none.queue_lifetime == 432000);
  CHECK(none.retry_min == 60);
  CHECK(none.retry_max == 3600);
  CHECK(none.timeout_seconds == 120);

  auto set = ServiceSettings::build(mailroom::config::daemon_settings_catalog(),
                                    {{"smarthost", "[::1]:2525"}, {"smarthost_tls", "none"},
                                     {"queue_retry_min", "600"}, {"queue_retry_max", "60"}});
  REQUIRE(set.ok());
  auto s = mailroom::relay::RelaySettings::from(*set);
  CHECK(s.host == "::1");
  CHECK(s.port == 2525);
  CHECK_FALSE(s.starttls);
  CHECK(s.retry_max == 600);  // never below queue_retry_min
}
