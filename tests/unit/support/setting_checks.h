// Checks shared by the settings tests of the core and of each module: normalizing one value
// (accepted, or refused with a message naming the key), and the consistency every settings catalog
// must have (unique, documented keys, each findable, every default valid and in canonical form).
#pragma once

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "core/base/result.h"
#include "core/config/setting_spec.h"

namespace mailroom::testing {

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// The canonical form of an accepted value.
inline std::string norm_ok(const config::SettingSpec& spec, const std::string& value) {
  auto r = config::normalize_setting(spec, value);
  REQUIRE_MESSAGE(r.ok(), spec.key, "='", value, "': ", (r.ok() ? "" : r.error().message));
  return *r;
}

// The message for a refused value.
inline std::string norm_error(const config::SettingSpec& spec, const std::string& value) {
  auto r = config::normalize_setting(spec, value);
  REQUIRE_MESSAGE(!r.ok(), spec.key, "='", value, "' was accepted as '", (r.ok() ? *r : ""), "'");
  CHECK(r.error().code == ErrorCode::kInvalidArgument);
  // Every message names the key so mailctl's one-line error is actionable.
  CHECK(contains(r.error().message, spec.key));
  return r.error().message;
}

// The declaration of `key` in `catalog`; the test stops when there is none.
inline const config::SettingSpec& find_spec(const config::SettingsCatalog& catalog, const char* key) {
  const config::SettingSpec* spec = catalog.find(key);
  REQUIRE_MESSAGE(spec != nullptr, "the catalog declares no ", key);
  return *spec;
}

inline void check_catalog_consistent(const config::SettingsCatalog& catalog) {
  std::set<std::string> keys;
  for (const config::SettingSpec& spec : catalog.all()) {
    CAPTURE(spec.key);
    CHECK_MESSAGE(keys.insert(spec.key).second, "duplicate key ", spec.key);
    CHECK_FALSE(spec.key.empty());
    CHECK_FALSE(spec.doc.empty());
    CHECK(catalog.find(spec.key) == &spec);
    auto norm = config::normalize_setting(spec, spec.default_value);
    CHECK_MESSAGE(norm.ok(), spec.key, " default '", spec.default_value, "': ", (norm.ok() ? "" : norm.error().message));
    if (norm.ok()) CHECK_MESSAGE(*norm == spec.default_value, spec.key, " default is not in canonical form");
    if (spec.type == config::SettingType::kInt) CHECK(spec.min <= spec.max);
  }
  CHECK(catalog.find("no_such_setting") == nullptr);
}

}  // namespace mailroom::testing
