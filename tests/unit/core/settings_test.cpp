// Setting declarations and validation: normalize_setting for each type, the core's validators
// (binds, tls_min_version, the OpenSSL cipher lists), ServiceSettings snapshots, and the
// consistency of the core's network and TLS declarations (unique keys, valid defaults). Tested
// on a catalog of the core's declarations alone; each module tests its own catalog.
#include <doctest/doctest.h>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "core/config/daemon_settings.h"
#include "core/config/network_settings.h"
#include "core/config/service_log_settings.h"
#include "core/config/setting_spec.h"
#include "core/config/tls_settings.h"
#include "tests/unit/support/setting_checks.h"

using mailroom::ErrorCode;
using mailroom::testing::contains;
using mailroom::testing::norm_error;
using mailroom::testing::norm_ok;
using namespace mailroom::config;

namespace {

// What every network, TLS-capable service declares; a module adds its own settings on top.
const SettingsCatalog& core_catalog() {
  static const SettingsCatalog catalog = [] {
    SettingsCatalog c(network_setting_specs(110));
    for (auto& spec : tls_setting_specs(995)) c.add(std::move(spec));
    return c;
  }();
  return catalog;
}

const SettingSpec& core_spec(const char* key) { return mailroom::testing::find_spec(core_catalog(), key); }

}  // namespace

TEST_CASE("int settings accept whole numbers within their bounds, in canonical form") {
  SettingSpec spec = int_setting("max_bad_commands", 10, 1, 1000, "doc");
  CHECK(spec.type == SettingType::kInt);
  CHECK(spec.default_value == "10");
  CHECK(norm_ok(spec, "1") == "1");
  CHECK(norm_ok(spec, "1000") == "1000");
  CHECK(norm_ok(spec, "0042") == "42");  // canonical decimal
  CHECK(contains(norm_error(spec, "0"), "from 1 to 1000"));
  CHECK(contains(norm_error(spec, "1001"), "from 1 to 1000"));
  CHECK(contains(norm_error(spec, "-5"), "from 1 to 1000"));
}

TEST_CASE("int settings refuse garbage, blanks, signs and overflow") {
  SettingSpec spec = int_setting("idle_timeout", 600, 1, 86400, "doc");
  for (const char* value : {"", "abc", "12abc", "1.5", " 5", "5 ", "+5", "0x10", "1e3", "99999999999999999999999"}) {
    CAPTURE(value);
    CHECK(contains(norm_error(spec, value), "whole number"));
  }
  SettingSpec negative = int_setting("offset", 0, -10, 10, "doc");
  CHECK(norm_ok(negative, "-10") == "-10");
  CHECK(norm_ok(negative, "-0") == "0");
}

TEST_CASE("bool settings accept on/off, yes/no, true/false, 1/0 and store on/off") {
  SettingSpec spec = bool_setting("starttls", true, "doc");
  CHECK(spec.type == SettingType::kBool);
  CHECK(spec.default_value == "on");
  CHECK(bool_setting("x", false, "doc").default_value == "off");
  for (const char* value : {"on", "yes", "true", "1"}) {
    CAPTURE(value);
    CHECK(norm_ok(spec, value) == "on");
  }
  for (const char* value : {"off", "no", "false", "0"}) {
    CAPTURE(value);
    CHECK(norm_ok(spec, value) == "off");
  }
  for (const char* value : {"", "2", "maybe", "enabled", " on", "on "}) {
    CAPTURE(value);
    CHECK(contains(norm_error(spec, value), "expected on or off"));
  }
}

TEST_CASE("bool spellings are case-sensitive: upper case is refused") {
  // Documented behaviour, not a bug: only lower-case spellings are accepted.
  SettingSpec spec = bool_setting("starttls", true, "doc");
  for (const char* value : {"ON", "Off", "TRUE", "Yes"}) {
    CAPTURE(value);
    CHECK_FALSE(normalize_setting(spec, value).ok());
  }
}

TEST_CASE("a near miss longer than a word list's limit gets the list, a long value only its length") {
  auto words = [](std::string_view v) -> std::optional<std::string> {
    if (v == "keep" || v == "strip") return std::nullopt;
    return std::string("must be keep or strip");
  };
  SettingSpec spec = string_setting("nul_bytes", "keep", 5, "doc", words);
  CHECK(contains(norm_error(spec, "stripped"), "must be keep or strip"));
  CHECK(contains(norm_error(spec, "stripped"), "'stripped'"));
  CHECK(contains(norm_error(spec, std::string(65, 'x')), "65 characters, longer than 5"));
  CHECK_FALSE(contains(norm_error(spec, std::string(65, 'x')), "xxxxx"));
  // A value the check would accept is still refused by its length.
  SettingSpec loose = string_setting("name", "", 3, "doc", [](std::string_view) { return std::nullopt; });
  CHECK(contains(norm_error(loose, "abcd"), "4 characters, longer than 3"));
}

TEST_CASE("string settings are bounded in length and refuse control characters") {
  SettingSpec spec = string_setting("banner", "hello", 10, "doc");
  CHECK(spec.type == SettingType::kString);
  CHECK(norm_ok(spec, "") == "");
  CHECK(norm_ok(spec, "0123456789") == "0123456789");
  CHECK(contains(norm_error(spec, "0123456789A"), "longer than 10"));
  for (std::string value : {std::string("a\rb"), std::string("a\nb"), std::string("a\tb"), std::string("\x7f"),
                            std::string("a\0b", 3), std::string("\x1b[31m")}) {
    CAPTURE(value);
    CHECK(contains(norm_error(spec, value), "control characters"));
  }
  // UTF-8 is not a control character.
  CHECK(norm_ok(spec, "caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(norm_ok(spec, " spaced ") == " spaced ");  // strings are kept as given
}

TEST_CASE("a string validator runs after the generic checks (a near miss of the length too) and its message is passed on") {
  int calls = 0;
  SettingSpec spec = string_setting("word", "a", 8, "doc", [&calls](std::string_view v) -> std::optional<std::string> {
    ++calls;
    if (v == "bad") return std::string("bad is not allowed");
    return std::nullopt;
  });
  CHECK(norm_ok(spec, "good") == "good");
  CHECK(calls == 1);
  CHECK(contains(norm_error(spec, "bad"), "bad is not allowed"));
  CHECK(calls == 2);
  norm_error(spec, std::string(65, 'x'));  // far too long: refused by length before the validator is asked
  CHECK(calls == 2);
  CHECK(contains(norm_error(spec, "much too long"), "13 characters, longer than 8"));  // a near miss it accepts
  CHECK(calls == 3);
}

TEST_CASE("binds and tls_binds are validated with the bind list parser") {
  for (const char* key : {"binds", "tls_binds"}) {
    CAPTURE(key);
    const SettingSpec& spec = core_spec(key);
    CHECK(norm_ok(spec, "*") == "*");
    CHECK(norm_ok(spec, "") == "");
    CHECK(norm_ok(spec, "127.0.0.1 1110, [::1]:1110; *") == "127.0.0.1 1110, [::1]:1110; *");
    CHECK(contains(norm_error(spec, "localhost:99999"), "bad port"));
    CHECK(contains(norm_error(spec, "999.1.1.1"), "not an IP address"));
    CHECK(contains(norm_error(spec, "127.0.0.1 0"), "bad port"));
    CHECK(contains(norm_error(spec, "127.0.0.1,,::1"), "empty entry"));
  }
}

TEST_CASE("binds and tls_binds accept 'none' alone: no TCP listener of that kind") {
  for (const char* key : {"binds", "tls_binds"}) {
    CAPTURE(key);
    const SettingSpec& spec = core_spec(key);
    CHECK(norm_ok(spec, "none") == "none");
    CHECK(contains(norm_error(spec, "none, 127.0.0.1"), "must stand alone"));
  }
}

TEST_CASE("unix_socket is empty (none) by default and takes a path, absolute or relative") {
  const SettingSpec& spec = core_spec("unix_socket");
  CHECK(spec.default_value == "");
  CHECK(norm_ok(spec, "lmtp.sock") == "lmtp.sock");
  CHECK(norm_ok(spec, "/run/mailroom/lmtp.sock") == "/run/mailroom/lmtp.sock");
  CHECK(contains(norm_error(spec, "run/"), "not a directory"));
  norm_error(spec, "/" + std::string(107, 'a'));  // longer than a socket address holds
}

TEST_CASE("unix_socket_mode is three or four octal digits up to 0777") {
  const SettingSpec& spec = core_spec("unix_socket_mode");
  CHECK(spec.default_value == "0660");
  for (const char* good : {"0660", "660", "0600", "0666", "0777", "000"}) {
    CAPTURE(good);
    CHECK(norm_ok(spec, good) == good);
  }
  for (const char* bad : {"", "66", "0668", "1777", "4660", "0x1b", " 660", "u+rw"}) {
    CAPTURE(bad);
    CHECK(contains(norm_error(spec, bad), "octal mode"));
  }
  norm_error(spec, "00660");  // longer than four characters
  norm_error(spec, "rw-rw----");
  CHECK(parse_socket_mode("0660") == 0660u);
  CHECK(parse_socket_mode("644") == 0644u);
  CHECK(parse_socket_mode("0777") == 0777u);
  CHECK_FALSE(parse_socket_mode("1777").has_value());
  CHECK_FALSE(parse_socket_mode("088").has_value());
}

TEST_CASE("network_settings_from reads unix_socket and its mode") {
  auto built = ServiceSettings::build(core_catalog(), {{"unix_socket", "pop3.sock"}, {"unix_socket_mode", "0600"}});
  REQUIRE(built.ok());
  NetworkSettings n = network_settings_from(*built);
  CHECK(n.unix_socket == "pop3.sock");
  CHECK(n.unix_socket_mode == 0600u);
  auto defaults = ServiceSettings::build(core_catalog(), {});
  REQUIRE(defaults.ok());
  CHECK(network_settings_from(*defaults).unix_socket.empty());
  CHECK(network_settings_from(*defaults).unix_socket_mode == 0660u);
}

TEST_CASE("tls_min_version accepts 1.0-1.3 and legacy and explains why SSLv3 is refused") {
  const SettingSpec& spec = core_spec("tls_min_version");
  for (const char* value : {"1.0", "1.1", "1.2", "1.3", "legacy"}) {
    CAPTURE(value);
    CHECK(norm_ok(spec, value) == value);
  }
  for (const char* value : {"ssl3", "sslv3", "SSLv3", "ssl2", "SSLv2"}) {
    CAPTURE(value);
    std::string why = norm_error(spec, value);
    CHECK(contains(why, "SSLv2 and SSLv3 are broken"));
    CHECK(contains(why, "legacy"));
  }
  for (const char* value : {"", "1.4", "TLSv1.2", "tls1.2", "2"}) {
    CAPTURE(value);
    CHECK(contains(norm_error(spec, value), "expected 1.0, 1.1, 1.2, 1.3 or legacy"));
  }
  // The bare checker agrees.
  CHECK_FALSE(mailroom::tls::check_min_version("1.2").has_value());
  CHECK(mailroom::tls::check_min_version("ssl3").has_value());
}

TEST_CASE("ServiceSettings::build with nothing stored gives the catalog defaults") {
  auto built = ServiceSettings::build(core_catalog(), {});
  REQUIRE(built.ok());
  const ServiceSettings& s = *built;
  CHECK(s.get_int("port") == 110);
  CHECK(s.get_int("tls_port") == 995);
  CHECK(s.get_string("binds") == "*");
  CHECK(s.get_int("idle_timeout") == 600);
  CHECK(s.get_int("max_command_length") == 512);
  CHECK(s.get_bool("implicit_tls"));
  CHECK(s.get_bool("starttls"));
  CHECK(s.get_string("tls_min_version") == "1.2");
  CHECK(s.values().size() == core_catalog().all().size());
}

TEST_CASE("ServiceSettings::build puts normalized stored values over the defaults") {
  auto built = ServiceSettings::build(core_catalog(),
                                      {{"port", "1110"}, {"implicit_tls", "no"}, {"max_login_failures", "007"},
                                       {"cert", "Hi there.pem"}, {"binds", "127.0.0.1"}});
  REQUIRE_MESSAGE(built.ok(), (built.ok() ? "" : built.error().message));
  const ServiceSettings& s = *built;
  CHECK(s.get_int("port") == 1110);
  CHECK_FALSE(s.get_bool("implicit_tls"));
  CHECK(s.get_string("implicit_tls") == "off");
  CHECK(s.get_int("max_login_failures") == 7);
  CHECK(s.get_string("max_login_failures") == "7");
  CHECK(s.get_string("cert") == "Hi there.pem");
  CHECK(s.get_string("binds") == "127.0.0.1");
  CHECK(s.get_int("tls_port") == 995);  // untouched default
  auto defaults = ServiceSettings::build(core_catalog(), {});
  REQUIRE(defaults.ok());
  CHECK_FALSE(s == *defaults);
  auto again = ServiceSettings::build(core_catalog(),
                                      {{"port", "1110"}, {"implicit_tls", "off"}, {"max_login_failures", "7"},
                                       {"cert", "Hi there.pem"}, {"binds", "127.0.0.1"}});
  REQUIRE(again.ok());
  CHECK(s == *again);  // equal after normalization
}

TEST_CASE("tls_ciphers is checked by OpenSSL: a list it selects nothing from is refused, naming the setting") {
  const SettingSpec& spec = core_spec("tls_ciphers");
  for (const char* value : {"", "HIGH", "HIGH:!aNULL:!MD5", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
                            "DEFAULT:@SECLEVEL=0", "ECDHE+AESGCM"}) {
    CAPTURE(value);
    CHECK(norm_ok(spec, value) == value);
  }
  for (const char* value : {"NOPE", "!aNULL", "RC4-SHA-TYPO:ALSO-WRONG", "TLS_AES_128_GCM_SHA256"}) {
    CAPTURE(value);
    std::string why = norm_error(spec, value);
    CHECK(contains(why, std::string("'") + value + "'"));
    CHECK(contains(why, "OpenSSL"));
  }
  // A TLS 1.3 suite here is a common mix-up: the message says where it belongs.
  CHECK(contains(norm_error(spec, "TLS_AES_128_GCM_SHA256"), "tls_ciphersuites"));
  CHECK_FALSE(contains(norm_error(spec, "NOPE"), "tls_ciphersuites"));
}

TEST_CASE("tls_ciphersuites is checked by OpenSSL: unknown TLS 1.3 suites are refused, naming the setting") {
  const SettingSpec& spec = core_spec("tls_ciphersuites");
  for (const char* value : {"", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"}) {
    CAPTURE(value);
    CHECK(norm_ok(spec, value) == value);
  }
  for (const char* value : {"NOPE", "TLS_AES_512_GCM_SHA1024", "ECDHE-RSA-AES128-GCM-SHA256"}) {
    CAPTURE(value);
    CHECK(contains(norm_error(spec, value), "OpenSSL"));
  }
  CHECK(contains(norm_error(spec, "ECDHE-RSA-AES128-GCM-SHA256"), "tls_ciphers"));
  // The daemon builds its snapshot with the same declarations: a stored bad list is reported there.
  auto built = ServiceSettings::build(core_catalog(), {{"tls_ciphers", "NOPE"}});
  REQUIRE_FALSE(built.ok());
  CHECK(contains(built.error().message, "tls_ciphers"));
}

TEST_CASE("ServiceSettings::build refuses an unknown key") {
  auto built = ServiceSettings::build(core_catalog(), {{"no_such_setting", "1"}});
  REQUIRE_FALSE(built.ok());
  CHECK(built.error().code == ErrorCode::kInvalidArgument);
  CHECK(contains(built.error().message, "unknown setting 'no_such_setting'"));
}

TEST_CASE("ServiceSettings::build refuses an invalid stored value and names it") {
  auto built = ServiceSettings::build(core_catalog(), {{"port", "0"}});
  REQUIRE_FALSE(built.ok());
  CHECK(contains(built.error().message, "port"));
  CHECK(contains(built.error().message, "'0'"));
  auto tls = ServiceSettings::build(core_catalog(), {{"tls_min_version", "ssl3"}});
  REQUIRE_FALSE(tls.ok());
  CHECK(contains(tls.error().message, "SSLv2 and SSLv3"));
}

TEST_CASE("reading an undeclared setting is a programming error") {
  auto built = ServiceSettings::build(core_catalog(), {});
  REQUIRE(built.ok());
  CHECK_THROWS_AS((void)built->get_int("nope"), std::logic_error);
  CHECK_THROWS_AS((void)built->get_string("nope"), std::logic_error);
}

TEST_CASE("the core's network and TLS declarations have unique keys and every default passes its own validation") {
  REQUIRE(core_catalog().all().size() > 10);
  mailroom::testing::check_catalog_consistent(core_catalog());
}

TEST_CASE("tls_config_from resolves relative certificate paths in the data directory") {
  auto built = ServiceSettings::build(core_catalog(),
                                      {{"key", "/etc/ssl/private/k.pem"}, {"tls_min_version", "legacy"},
                                       {"tls_ciphers", "HIGH"}});
  REQUIRE(built.ok());
  auto c = tls_config_from(*built, "/var/lib/mailroom");
  CHECK(c.cert_file == "/var/lib/mailroom/tls/cert.pem");
  CHECK(c.key_file == "/etc/ssl/private/k.pem");
  CHECK(c.min_version == "legacy");
  CHECK(c.ciphers == "HIGH");
  CHECK(c.ciphersuites == "");
}

TEST_CASE("daemon-wide settings: log targets, levels, formats and the metrics address are checked") {
  using namespace mailroom::config;
  CHECK_FALSE(check_log_target("stderr"));
  CHECK_FALSE(check_log_target("file:/var/log/mailroom.log"));
  CHECK_FALSE(check_log_target("syslog"));
  CHECK_FALSE(check_log_target("syslog:local3"));
  CHECK(check_log_target("file:relative.log"));
  CHECK(check_log_target("file:/var/log/"));
  CHECK(check_log_target("syslog:kern"));
  CHECK(check_log_target("stdout"));
  CHECK_FALSE(check_log_level("debug"));
  CHECK(check_log_level("verbose"));
  CHECK_FALSE(check_log_format("json"));
  CHECK(check_log_format("xml"));
  CHECK_FALSE(check_metrics_listen("off"));
  CHECK_FALSE(check_metrics_listen("on"));
  CHECK_FALSE(metrics_listen_address("off").has_value());
  CHECK(metrics_listen_address("on") == "127.0.0.1:9154");  // loopback when merely switched on
  CHECK(metrics_listen_address("[::1]:9200") == "[::1]:9200");
  CHECK_FALSE(check_metrics_listen("127.0.0.1:9154"));
  CHECK_FALSE(check_metrics_listen("[::1]:9154"));
  CHECK(check_metrics_listen("127.0.0.1"));  // no port
  CHECK(check_metrics_listen("127.0.0.1:1, 127.0.0.2:2"));
  CHECK(check_metrics_listen("bogus address"));
  // The relay's: smarthost is empty or one host:port; smarthost_tls starttls|none.
  CHECK_FALSE(check_smarthost(""));
  CHECK_FALSE(check_smarthost("smtp.example.net:587"));
  CHECK_FALSE(check_smarthost("127.0.0.1:25"));
  CHECK_FALSE(check_smarthost("[::1]:25"));
  CHECK(check_smarthost("smtp.example.net"));  // no port
  CHECK(check_smarthost("*:25"));
  CHECK(check_smarthost("a.test:25, b.test:25"));
  CHECK(check_smarthost("unix:/run/smtp.sock"));
  CHECK_FALSE(check_smarthost_tls("starttls"));
  CHECK_FALSE(check_smarthost_tls("none"));
  CHECK(check_smarthost_tls("tls"));
  CHECK_FALSE(check_optional_absolute_path(""));
  CHECK(check_optional_absolute_path("ca.pem"));
  // The password is a secret: a refused value is never echoed.
  const SettingSpec* password = daemon_settings_catalog().find("smarthost_password");
  REQUIRE(password != nullptr);
  CHECK(password->secret);
  auto refused = normalize_setting(*password, std::string(300, 'p'));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("ppp") == std::string::npos);
  // Every default passes its own check.
  for (const auto& spec : daemon_settings_catalog().all()) {
    CHECK_MESSAGE(normalize_setting(spec, spec.default_value).ok(), spec.key);
  }
}

TEST_CASE("per-service logging settings: empty follows the daemon, anything else is checked like it") {
  const SettingsCatalog catalog(service_log_setting_specs());
  mailroom::testing::check_catalog_consistent(catalog);
  const auto& target = mailroom::testing::find_spec(catalog, "log_target");
  CHECK(target.default_value == "");
  CHECK(mailroom::testing::norm_ok(target, "") == "");
  CHECK(mailroom::testing::norm_ok(target, "file:/var/log/mailroom/pop3.log") == "file:/var/log/mailroom/pop3.log");
  CHECK(contains(norm_error(target, "file:pop3.log"), "absolute"));
  const auto& level = mailroom::testing::find_spec(catalog, "log_level");
  CHECK(mailroom::testing::norm_ok(level, "debug") == "debug");
  CHECK(contains(norm_error(level, "loud"), "debug, info, warn or error"));
  const auto& format = mailroom::testing::find_spec(catalog, "log_format");
  CHECK(contains(norm_error(format, "xml"), "kv"));
  // A near miss longer than every valid word is answered with the valid words, here and daemon-wide.
  for (const SettingsCatalog* c : {&catalog, &daemon_settings_catalog()}) {
    CHECK(contains(norm_error(mailroom::testing::find_spec(*c, "log_level"), "warning"), "debug, info, warn or error"));
    CHECK(contains(norm_error(mailroom::testing::find_spec(*c, "log_level"), "verbose"), "debug, info, warn or error"));
    CHECK(contains(norm_error(mailroom::testing::find_spec(*c, "log_format"), "keyvalue"), "'kv' or 'json'"));
  }
  const auto& transcript = mailroom::testing::find_spec(catalog, "debug_transcript");
  CHECK(transcript.type == SettingType::kBool);
  CHECK(transcript.default_value == "off");
}
