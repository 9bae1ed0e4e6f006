// The pop3 module's settings catalog: the core's network and TLS declarations plus its own
// (alt_at_chars, banner, capa_implementation, ...), with their defaults and validators.
#include <doctest/doctest.h>

#include "core/config/network_settings.h"
#include "core/config/setting_spec.h"
#include "core/config/tls_settings.h"
#include "modules/pop3/pop3_settings.h"
#include "tests/unit/support/setting_checks.h"

using mailroom::pop3::pop3_settings_catalog;
using mailroom::testing::contains;
using mailroom::testing::norm_error;
using mailroom::testing::norm_ok;
using namespace mailroom::config;

namespace {

const SettingSpec& pop3_spec(const char* key) { return mailroom::testing::find_spec(pop3_settings_catalog(), key); }

}  // namespace

TEST_CASE("alt_at_chars accepts punctuation other than @ . - _ +") {
  const SettingSpec& spec = pop3_spec("alt_at_chars");
  CHECK(norm_ok(spec, "") == "");
  CHECK(norm_ok(spec, "#$%") == "#$%");
  CHECK(norm_ok(spec, "!/:?[`{~") == "!/:?[`{~");
  for (const char* value : {"@", "#@", ".", "-", "_", "+", "a", "#1", " ", "#%a"}) {
    CAPTURE(value);
    CHECK(contains(norm_error(spec, value), "only punctuation"));
  }
  CHECK(contains(norm_error(spec, "#\x01"), "control characters"));
  CHECK(contains(norm_error(spec, "!#$%&'()*/:;<=>?~"), "longer than 16"));
}

TEST_CASE("the pop3 catalog with nothing stored gives POP3's ports and its own defaults") {
  auto built = ServiceSettings::build(pop3_settings_catalog(), {});
  REQUIRE(built.ok());
  const ServiceSettings& s = *built;
  CHECK(s.get_int("port") == 110);
  CHECK(s.get_int("tls_port") == 995);
  CHECK_FALSE(s.get_bool("capa_implementation"));
  CHECK(s.get_int("max_bad_commands") == 10);
  CHECK(s.values().size() == pop3_settings_catalog().all().size());
}

TEST_CASE("the pop3 catalog has unique keys and every default passes its own validation") {
  const SettingsCatalog& catalog = pop3_settings_catalog();
  REQUIRE(catalog.all().size() > 10);
  mailroom::testing::check_catalog_consistent(catalog);
  // The core's network and TLS settings are all there.
  for (const auto& spec : network_setting_specs(110)) CHECK_MESSAGE(catalog.find(spec.key) != nullptr, spec.key);
  for (const auto& spec : tls_setting_specs(995)) CHECK_MESSAGE(catalog.find(spec.key) != nullptr, spec.key);
}
