// The table of built-in modules: unique names, a default service each, catalogs that compose,
// and the lookups mailctl and the daemon use.
#include <doctest/doctest.h>

#include <set>
#include <string>

#include "core/module/module_catalog.h"
#include "daemon/builtin_modules.h"

using namespace mailroom;

TEST_CASE("the built-in table names each module once, with a default service and a factory") {
  const auto table = builtin::builtin_modules();
  REQUIRE_FALSE(table.empty());
  std::set<std::string> names, services;
  for (const auto& d : table) {
    CAPTURE(d.name);
    CHECK_FALSE(d.name.empty());
    CHECK_MESSAGE(names.insert(d.name).second, "module listed twice: ", d.name);
    CHECK_FALSE(d.default_services.empty());
    for (const auto& s : d.default_services) CHECK_MESSAGE(services.insert(s).second, "default service twice: ", s);
    CHECK(static_cast<bool>(d.make));
    CHECK_FALSE(d.replies.busy.empty());
    CHECK(d.port > 0);
    CHECK(d.tls_port > 0);
    CHECK_NOTHROW((void)core::compose_settings_catalog(d));
    CHECK(builtin::find_module(d.name) == &d);
    REQUIRE(builtin::settings_catalog(d.name) != nullptr);
    CHECK(builtin::settings_catalog(d.name)->find("port")->default_value == std::to_string(d.port));
  }
  CHECK(builtin::find_module("no_such_module") == nullptr);
  CHECK(builtin::settings_catalog("no_such_module") == nullptr);
}

TEST_CASE("module names and default services come from the table") {
  const auto names = builtin::module_names();
  CHECK(names.size() == builtin::builtin_modules().size());
  CHECK(std::set<std::string>(names.begin(), names.end()).count("pop3") == 1);
  const auto services = builtin::default_services();
  std::size_t expected = 0;
  for (const auto& d : builtin::builtin_modules()) expected += d.default_services.size();
  CHECK(services.size() == expected);
  for (const auto& [service, module] : services) CHECK(builtin::find_module(module) != nullptr);
  CHECK(services.front() == std::pair<std::string, std::string>("pop3", "pop3"));
}

TEST_CASE("the secret kinds to keep come from each enabled service's module, through the table") {
  using storage::ServiceRecord;
  // Defaults: only the SCRAM keys (always kept) for an enabled pop3 service.
  CHECK(builtin::wanted_secret_kinds({ServiceRecord{"pop3", "pop3", true, {}}}) ==
        std::set<std::string>{"scram-sha-1", "scram-sha-256"});
  // CRAM-MD5 offered and APOP on: their plaintext equivalents too.
  CHECK(builtin::wanted_secret_kinds({ServiceRecord{
            "pop3", "pop3", true, {{"auth_mechanisms", "PLAIN CRAM-MD5"}, {"apop", "on"}}}}) ==
        std::set<std::string>{"cram-md5", "plaintext", "scram-sha-1", "scram-sha-256"});
  // A disabled service, a module this build does not have, settings that do not build: nothing.
  CHECK(builtin::wanted_secret_kinds({ServiceRecord{"pop3", "pop3", false, {{"apop", "on"}}},
                                      ServiceRecord{"x", "no-such-module", true, {}},
                                      ServiceRecord{"bad", "pop3", true, {{"apop", "maybe"}}}})
            .empty());
}
