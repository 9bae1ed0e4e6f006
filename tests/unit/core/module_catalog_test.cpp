// Catalog composition from a module descriptor (the core's network and TLS settings with the
// module's defaults, then its own) and the typed NetworkSettings read from a service's settings.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "core/config/network_settings.h"
#include "core/config/service_log_settings.h"
#include "core/config/tls_settings.h"
#include "core/module/module_catalog.h"

using namespace mailroom;

namespace {

// A made-up protocol: its own ports, line limit and idle timeout, one setting of its own.
core::ModuleDescriptor fake_descriptor() {
  core::ModuleDescriptor d;
  d.name = "fake";
  d.port = 2525;
  d.tls_port = 4465;
  d.core_defaults = {{"max_command_length", "1000", ""},
                     {"idle_timeout", "300", "FAKE-RFC asks for 5 minutes."},
                     {"starttls", std::nullopt, "For fake this is the UPGRADE command."}};
  d.settings = {config::string_setting("greeting", "hello", 100, "What fake says first.")};
  d.replies.busy = "BUSY\r\n";
  d.default_services = {"fake"};
  return d;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("a module's catalog is the core's network, TLS and logging settings with its defaults, then its own") {
  const config::SettingsCatalog catalog = core::compose_settings_catalog(fake_descriptor());
  const auto network = config::network_setting_specs(2525);
  const auto tls = config::tls_setting_specs(4465);
  const auto logging = config::service_log_setting_specs();
  REQUIRE(catalog.all().size() == network.size() + tls.size() + logging.size() + 1);
  // In order: network, TLS, logging, own.
  for (std::size_t i = 0; i < network.size(); ++i) CHECK(catalog.all()[i].key == network[i].key);
  for (std::size_t i = 0; i < tls.size(); ++i) CHECK(catalog.all()[network.size() + i].key == tls[i].key);
  for (std::size_t i = 0; i < logging.size(); ++i) {
    CHECK(catalog.all()[network.size() + tls.size() + i].key == logging[i].key);
  }
  CHECK(catalog.all().back().key == "greeting");

  CHECK(catalog.find("port")->default_value == "2525");
  CHECK(catalog.find("tls_port")->default_value == "4465");
  CHECK(catalog.find("max_command_length")->default_value == "1000");
  CHECK(catalog.find("idle_timeout")->default_value == "300");
  // Notes are appended to the core's help text; untouched settings keep theirs.
  CHECK(contains(catalog.find("idle_timeout")->doc, "FAKE-RFC asks for 5 minutes."));
  CHECK(catalog.find("starttls")->default_value == "on");
  CHECK(contains(catalog.find("starttls")->doc, "UPGRADE"));
  for (const auto& spec : network) {
    if (spec.key == "port" || spec.key == "max_command_length" || spec.key == "idle_timeout") continue;
    CHECK_MESSAGE(catalog.find(spec.key)->default_value == spec.default_value, spec.key);
    CHECK_MESSAGE(catalog.find(spec.key)->doc == spec.doc, spec.key);
  }
  // Two modules' catalogs do not share their defaults.
  auto other = fake_descriptor();
  other.core_defaults.clear();
  CHECK(core::compose_settings_catalog(other).find("max_command_length")->default_value == "512");
}

TEST_CASE("a descriptor that cannot be right is refused when its catalog is composed") {
  auto unknown = fake_descriptor();
  unknown.core_defaults.push_back({"no_such_setting", "1", ""});
  CHECK_THROWS_AS(core::compose_settings_catalog(unknown), std::logic_error);

  auto refused = fake_descriptor();
  refused.core_defaults.push_back({"idle_timeout", "0", ""});  // below its minimum
  CHECK_THROWS_AS(core::compose_settings_catalog(refused), std::logic_error);

  auto clash = fake_descriptor();
  clash.settings.push_back(config::int_setting("port", 1, 1, 2, "mine"));
  CHECK_THROWS_AS(core::compose_settings_catalog(clash), std::logic_error);
}

TEST_CASE("NetworkSettings reads every core setting typed, from the catalog's defaults or stored values") {
  const config::SettingsCatalog catalog = core::compose_settings_catalog(fake_descriptor());
  auto defaults = config::ServiceSettings::build(catalog, {});
  REQUIRE(defaults.ok());
  const config::NetworkSettings d = config::network_settings_from(*defaults);
  CHECK(d.port == 2525);
  CHECK(d.binds == "*");
  CHECK(d.alt_port == 0);
  CHECK(d.implicit_tls);
  CHECK(d.tls_port == 4465);
  CHECK(d.tls_binds == "*");
  CHECK(d.idle_timeout == std::chrono::seconds(300));
  CHECK(d.command_timeout == std::chrono::seconds(60));
  CHECK(d.login_timeout == std::chrono::seconds(60));
  CHECK(d.handshake_timeout == std::chrono::seconds(30));
  CHECK(d.max_command_length == 1000);
  CHECK(d.output_buffer_size == 262144);
  CHECK(d.max_connections == 200);
  CHECK(d.max_connections_per_ip == 50);
  CHECK(d.login_checks == 3);
  CHECK(d.login_checks_per_ip == 4);
  CHECK(d.access_mode == ipfilter::AccessMode::kDeny);
  CHECK(d.hammer.max_login_failures == 5);
  CHECK(d.hammer.failure_window == std::chrono::seconds(300));
  CHECK(d.hammer.block_duration == std::chrono::seconds(900));
  CHECK(d.hammer.ipv6_failure_prefix == 64);
  CHECK(d.hammer.failure_delay == std::chrono::milliseconds(500));
  CHECK(d.hammer.max_failure_delay == std::chrono::milliseconds(4000));
  CHECK(d.auto_deny);
  CHECK_FALSE(d.auto_deny_duration.has_value());  // 0 = until lifted or restart

  auto stored = config::ServiceSettings::build(
      catalog, {{"port", "1110"}, {"binds", "127.0.0.1"}, {"alt_port", "2110"}, {"implicit_tls", "off"},
                {"tls_port", "1995"}, {"tls_binds", "::1"}, {"idle_timeout", "42"}, {"command_timeout", "7"},
                {"login_timeout", "0"}, {"handshake_timeout", "9"}, {"max_command_length", "64"},
                {"output_buffer_size", "4096"}, {"max_connections", "3"}, {"max_connections_per_ip", "0"},
                {"login_checks", "5"}, {"login_checks_per_ip", "2"}, {"access_mode", "allow_only"}, {"max_login_failures", "0"},
                {"failure_window", "10"}, {"block_duration", "0"}, {"ipv6_failure_prefix", "48"},
                {"failure_delay", "0"}, {"max_failure_delay", "100"}, {"auto_deny", "off"},
                {"auto_deny_duration", "60"}});
  REQUIRE(stored.ok());
  const config::NetworkSettings s = config::network_settings_from(*stored);
  CHECK(s.port == 1110);
  CHECK(s.binds == "127.0.0.1");
  CHECK(s.alt_port == 2110);
  CHECK_FALSE(s.implicit_tls);
  CHECK(s.tls_port == 1995);
  CHECK(s.tls_binds == "::1");
  CHECK(s.idle_timeout == std::chrono::seconds(42));
  CHECK(s.command_timeout == std::chrono::seconds(7));
  CHECK(s.login_timeout == std::chrono::seconds(0));
  CHECK(s.handshake_timeout == std::chrono::seconds(9));
  CHECK(s.max_command_length == 64);
  CHECK(s.output_buffer_size == 4096);
  CHECK(s.max_connections == 3);
  CHECK(s.max_connections_per_ip == 0);
  CHECK(s.login_checks == 5);
  CHECK(s.login_checks_per_ip == 2);
  CHECK(s.access_mode == ipfilter::AccessMode::kAllowOnly);
  CHECK(s.hammer.max_login_failures == 0);
  CHECK(s.hammer.failure_window == std::chrono::seconds(10));
  CHECK(s.hammer.block_duration == std::chrono::seconds(0));
  CHECK(s.hammer.ipv6_failure_prefix == 48);
  CHECK(s.hammer.failure_delay == std::chrono::milliseconds(0));
  CHECK(s.hammer.max_failure_delay == std::chrono::milliseconds(100));
  CHECK_FALSE(s.auto_deny);
  REQUIRE(s.auto_deny_duration.has_value());
  CHECK(*s.auto_deny_duration == std::chrono::seconds(60));
}

TEST_CASE("a module's replies give one line per deadline, none for the TLS handshake") {
  core::ModuleReplies r;
  r.idle_timeout = "idle";
  r.command_timeout = "command";
  r.login_timeout = "login";
  CHECK(r.for_timeout(core::Timeout::kIdle) == "idle");
  CHECK(r.for_timeout(core::Timeout::kCommand) == "command");
  CHECK(r.for_timeout(core::Timeout::kLogin) == "login");
  CHECK(r.for_timeout(core::Timeout::kHandshake).empty());
}
