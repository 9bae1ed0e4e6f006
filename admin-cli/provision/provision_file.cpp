// Reading and checking a provisioning file, and writing the export.
#include "admin-cli/provision/provision_file.h"

#include <filesystem>
#include <set>
#include <tuple>

#include <nlohmann/json.hpp>

#include "core/config/account_settings.h"
#include "core/config/daemon_settings.h"
#include "core/ipfilter/address_rule.h"
#include "daemon/builtin_modules.h"
#include "storage/password/password_hash.h"
#include "storage/mail_root.h"
#include "storage/policy_store.h"

namespace mailroom::cli::provision {

namespace {

using json = nlohmann::ordered_json;

// The keys each entry may have; anything else is a problem (a typo must not be ignored).
const std::set<std::string> kTopKeys = {"version", "postoffices", "mailboxes", "services", "access_rules",
                                        "daemon_settings"};
const std::set<std::string> kPostofficeKeys = {"postoffice", "enabled", "settings"};
const std::set<std::string> kMailboxKeys = {"address", "enabled", "password_hash", "password", "maildir", "settings"};
const std::set<std::string> kServiceKeys = {"service", "module", "enabled", "settings"};
const std::set<std::string> kRuleKeys = {"service", "list", "rule", "comment"};

std::string index_path(const std::string& section, std::size_t i) {
  return section + "[" + std::to_string(i) + "]";
}

class Checker {
 public:
  explicit Checker(std::vector<Problem>& problems) : problems_(problems) {}

  void problem(const std::string& path, const std::string& message) { problems_.push_back({path, message}); }

  // The entry is an object with only `allowed` keys.
  bool object(const json& value, const std::string& path, const std::set<std::string>& allowed) {
    if (!value.is_object()) {
      problem(path, "expected an object");
      return false;
    }
    bool ok = true;
    for (const auto& [key, v] : value.items()) {
      if (allowed.count(key) == 0) {
        problem(path + "." + key, "unknown key");
        ok = false;
      }
    }
    return ok;
  }

  std::optional<std::string> string(const json& obj, const std::string& key, const std::string& path, bool required) {
    auto it = obj.find(key);
    if (it == obj.end()) {
      if (required) problem(path + "." + key, "missing");
      return std::nullopt;
    }
    if (!it->is_string()) {
      problem(path + "." + key, "expected a string");
      return std::nullopt;
    }
    return it->get<std::string>();
  }

  // `enabled`: a boolean, true when absent.
  bool enabled(const json& obj, const std::string& path) {
    auto it = obj.find("enabled");
    if (it == obj.end()) return true;
    if (!it->is_boolean()) {
      problem(path + ".enabled", "expected true or false");
      return true;
    }
    return it->get<bool>();
  }

  // An array section; nullopt (and no problem) when absent.
  const json* section(const json& doc, const std::string& name) {
    auto it = doc.find(name);
    if (it == doc.end()) return nullptr;
    if (!it->is_array()) {
      problem(name, "expected an array");
      return nullptr;
    }
    return &*it;
  }

 private:
  std::vector<Problem>& problems_;
};

// Service names as mailctl init makes them: lowercase letters, digits and '-', at most 63.
bool valid_service_name(const std::string& name) {
  if (name.empty() || name.size() > 63 || name.front() == '-') return false;
  for (char ch : name) {
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) return false;
  }
  return true;
}

// A setting value as the file gives it: typed (number, true/false, string), or a string in the
// form 'mailctl service set' takes; returns the canonical text or the problem.
Result<std::string> setting_value(const config::SettingSpec& spec, const json& value) {
  std::string text;
  if (value.is_string()) {
    text = value.get<std::string>();
  } else if (spec.type == config::SettingType::kInt && value.is_number_integer()) {
    text = std::to_string(value.get<int64_t>());
  } else if (spec.type == config::SettingType::kBool && value.is_boolean()) {
    text = value.get<bool>() ? "on" : "off";
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("expected ") + (spec.type == config::SettingType::kInt    ? "an integer"
                                                  : spec.type == config::SettingType::kBool ? "true or false"
                                                                                            : "a string"));
  }
  return config::normalize_setting(spec, text);
}

// An entry's `settings` object (absent: none), each value checked against `catalog`; false after
// any problem. `owner` says whose settings for the unknown-key problem ("module pop3").
bool read_settings(Checker& c, const json& entry, const std::string& path, const config::SettingsCatalog& catalog,
                   const std::string& owner, std::map<std::string, std::string>& out) {
  auto it = entry.find("settings");
  if (it == entry.end()) return true;
  if (!it->is_object()) {
    c.problem(path + ".settings", "expected an object of key: value");
    return false;
  }
  bool ok = true;
  for (const auto& [key, value] : it->items()) {
    const std::string key_path = path + ".settings." + key;
    const config::SettingSpec* spec = catalog.find(key);
    if (spec == nullptr) {
      c.problem(key_path, "unknown setting for " + owner);
      ok = false;
      continue;
    }
    auto canonical = setting_value(*spec, value);
    if (!canonical) {
      c.problem(key_path, canonical.error().message);
      ok = false;
      continue;
    }
    out[key] = *canonical;
  }
  return ok;
}

// For read_settings(): "an account (known: login_delay, expire_days, ...)".
const std::string& account_owner() {
  static const std::string owner = [] {
    std::string known;
    for (const auto& spec : config::account_settings_catalog().all()) known += (known.empty() ? "" : ", ") + spec.key;
    return "a postoffice or mailbox (known: " + known + ")";
  }();
  return owner;
}

}  // namespace

json typed_setting(const config::SettingSpec* spec, const std::string& value) {
  if (spec == nullptr || !config::normalize_setting(*spec, value)) return value;
  if (spec->type == config::SettingType::kBool) return value == "on";
  if (spec->type == config::SettingType::kInt) {
    try {
      return std::stoll(value);
    } catch (const std::exception&) {
      return value;
    }
  }
  return value;
}

namespace {

void read_postoffices(Checker& c, const json& doc, DesiredState& out) {
  const json* list = c.section(doc, "postoffices");
  if (list == nullptr) return;
  out.postoffices.emplace();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = index_path("postoffices", i);
    const json& entry = (*list)[i];
    if (!c.object(entry, path, kPostofficeKeys)) continue;
    auto raw = c.string(entry, "postoffice", path, true);
    const bool enabled = c.enabled(entry, path);
    std::map<std::string, std::string> settings;
    const bool settings_ok = read_settings(c, entry, path, config::account_settings_catalog(), account_owner(), settings);
    if (!raw || !settings_ok) continue;
    auto name = storage::normalize_postoffice_name(*raw);
    if (!name) {
      c.problem(path + ".postoffice", name.error().message);
      continue;
    }
    if (!seen.insert(*name).second) {
      c.problem(path + ".postoffice", "postoffice " + *name + " is listed twice");
      continue;
    }
    out.postoffices->push_back(DesiredPostoffice{*name, enabled, std::move(settings), path});
  }
}

std::optional<std::string> read_maildir(Checker& c, const json& entry, const std::string& path) {
  auto raw = c.string(entry, "maildir", path, false);
  if (!raw) return std::nullopt;
  if (raw->empty() || raw->front() != '/') {
    c.problem(path + ".maildir", "must be an absolute path");
    return std::nullopt;
  }
  std::string norm = std::filesystem::path(*raw).lexically_normal().string();
  while (norm.size() > 1 && norm.back() == '/') norm.pop_back();
  if (norm == "/") {
    c.problem(path + ".maildir", "cannot be /");
    return std::nullopt;
  }
  return norm;
}

void read_mailboxes(Checker& c, const json& doc, DesiredState& out) {
  const json* list = c.section(doc, "mailboxes");
  if (list == nullptr) return;
  out.mailboxes.emplace();
  out.mailboxes->reserve(list->size());
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = index_path("mailboxes", i);
    const json& entry = (*list)[i];
    if (!c.object(entry, path, kMailboxKeys)) continue;
    DesiredMailbox m;
    m.path = path;
    m.enabled = c.enabled(entry, path);
    bool ok = true;
    if (auto raw = c.string(entry, "address", path, true)) {
      auto address = storage::parse_address(*raw);
      if (!address) {
        c.problem(path + ".address", address.error().message);
        ok = false;
      } else if (!seen.insert(address->str()).second) {
        c.problem(path + ".address", "mailbox " + address->str() + " is listed twice");
        ok = false;
      } else {
        m.address = *address;
      }
    } else {
      ok = false;
    }
    auto hash = c.string(entry, "password_hash", path, false);
    auto password = c.string(entry, "password", path, false);
    if (hash && password) {
      c.problem(path, "give password_hash or password, not both");
      ok = false;
    } else if (hash) {
      auto parsed = storage::password::parse_imported_hash(*hash);
      if (!parsed) {
        c.problem(path + ".password_hash", parsed.error().message);
        ok = false;
      } else {
        m.password_hash = parsed->stored;
      }
    } else if (password) {
      if (auto st = storage::password::check_password(*password); !st) {
        c.problem(path + ".password", st.error().message);  // says what is wrong, never the value
        ok = false;
      } else {
        m.password = *password;
      }
    } else if (entry.contains("password_hash") || entry.contains("password")) {
      ok = false;  // the wrong type, already reported
    } else {
      c.problem(path, "needs password_hash or password");
      ok = false;
    }
    if (entry.contains("maildir")) {
      m.maildir = read_maildir(c, entry, path);
      if (!m.maildir) ok = false;
    }
    if (!read_settings(c, entry, path, config::account_settings_catalog(), account_owner(), m.settings)) ok = false;
    if (ok) out.mailboxes->push_back(std::move(m));
  }
}

void read_services(Checker& c, const json& doc, DesiredState& out) {
  const json* list = c.section(doc, "services");
  if (list == nullptr) return;
  out.services.emplace();
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = index_path("services", i);
    const json& entry = (*list)[i];
    if (!c.object(entry, path, kServiceKeys)) continue;
    DesiredService s;
    s.path = path;
    s.enabled = c.enabled(entry, path);
    auto name = c.string(entry, "service", path, true);
    auto module = c.string(entry, "module", path, true);
    if (!name || !module) continue;
    if (!valid_service_name(*name)) {
      c.problem(path + ".service", "a service name is letters, digits and '-' (got '" + *name + "')");
      continue;
    }
    if (!seen.insert(*name).second) {
      c.problem(path + ".service", "service " + *name + " is listed twice");
      continue;
    }
    const config::SettingsCatalog* catalog = builtin::settings_catalog(*module);
    if (catalog == nullptr) {
      std::string known;
      for (const auto& m : builtin::module_names()) known += (known.empty() ? "" : ", ") + m;
      c.problem(path + ".module", "unknown module '" + *module + "' (known: " + known + ")");
      continue;
    }
    s.name = *name;
    s.module = *module;
    if (read_settings(c, entry, path, *catalog, "module " + *module, s.settings)) out.services->push_back(std::move(s));
  }
}

void read_rules(Checker& c, const json& doc, DesiredState& out) {
  const json* list = c.section(doc, "access_rules");
  if (list == nullptr) return;
  out.access_rules.emplace();
  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const std::string path = index_path("access_rules", i);
    const json& entry = (*list)[i];
    if (!c.object(entry, path, kRuleKeys)) continue;
    auto service = c.string(entry, "service", path, true);
    auto list_name = c.string(entry, "list", path, true);
    auto text = c.string(entry, "rule", path, true);
    auto comment = c.string(entry, "comment", path, false);
    if (!service || !list_name || !text) continue;
    if (*list_name != "allow" && *list_name != "deny" && *list_name != "safe") {
      c.problem(path + ".list", "unknown access list '" + *list_name + "' (use allow, deny or safe)");
      continue;
    }
    auto rule = ipfilter::parse_address_rule(*text);
    if (!rule) {
      c.problem(path + ".rule", rule.error().message);
      continue;
    }
    if (comment && comment->size() > storage::kMaxRuleCommentLength) {
      c.problem(path + ".comment",
                "longer than " + std::to_string(storage::kMaxRuleCommentLength) + " characters");
      continue;
    }
    if (!seen.emplace(*service, *list_name, rule->canonical).second) {
      c.problem(path + ".rule", "the " + *list_name + " list of " + *service + " has " + rule->canonical + " twice");
      continue;
    }
    out.access_rules->push_back(
        DesiredRule{storage::ProvisionedRule{*service, *list_name, rule->canonical, comment.value_or("")}, path});
  }
}

// "daemon_settings": {key: value}, each checked against the daemon-wide catalog.
void read_daemon_settings(Checker& c, const json& doc, DesiredState& out) {
  auto it = doc.find("daemon_settings");
  if (it == doc.end()) return;
  if (!it->is_object()) {
    c.problem("daemon_settings", "expected an object of key: value");
    return;
  }
  std::map<std::string, std::string> settings;
  bool ok = true;
  for (const auto& [key, value] : it->items()) {
    const std::string path = "daemon_settings." + key;
    const config::SettingSpec* spec = config::daemon_settings_catalog().find(key);
    if (spec == nullptr) {
      c.problem(path, "unknown daemon setting (see 'mailctl daemon show')");
      ok = false;
    } else if (!provisioned_daemon_setting(key)) {
      c.problem(path, spec->secret ? "a secret is never in a provisioning file: set it with 'mailctl daemon set'"
                                   : "not in a provisioning file (a path of this machine): set it with "
                                     "'mailctl daemon set'");
      ok = false;
    } else if (auto canonical = setting_value(*spec, value); !canonical) {
      c.problem(path, canonical.error().message);
      ok = false;
    } else {
      settings[key] = *canonical;
    }
  }
  if (ok) out.daemon_settings = std::move(settings);
}

// "not valid JSON at line 3, column 14: syntax error while parsing value - invalid literal".
// Never the "last read" text nlohmann appends: it may be part of a plaintext password.
std::string json_syntax_problem(const std::string& text, const json::parse_error& e) {
  const std::size_t end = std::min<std::size_t>(e.byte, text.size());
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i + 1 < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string reason = e.what();
  if (auto colon = reason.find(": "); colon != std::string::npos) reason = reason.substr(colon + 2);
  if (auto last = reason.find("; last read"); last != std::string::npos) reason.resize(last);
  return "not valid JSON at line " + std::to_string(line) + ", column " + std::to_string(column) + ": " + reason;
}

}  // namespace

ParsedFile parse_provisioning_file(const std::string& text) {
  ParsedFile out;
  Checker c(out.problems);
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::parse_error& e) {
    c.problem("", json_syntax_problem(text, e));
    return out;
  }
  if (!c.object(doc, "", kTopKeys)) return out;
  auto version = doc.find("version");
  if (version == doc.end()) {
    c.problem("version", "missing (this mailctl reads version " + std::to_string(kFileVersion) + ")");
    return out;
  }
  if (!version->is_number_integer() || version->get<int64_t>() != kFileVersion) {
    c.problem("version", "this mailctl reads version " + std::to_string(kFileVersion) + " only");
    return out;
  }
  read_postoffices(c, doc, out.state);
  read_mailboxes(c, doc, out.state);
  read_services(c, doc, out.state);
  read_rules(c, doc, out.state);
  read_daemon_settings(c, doc, out.state);
  return out;
}

bool provisioned_daemon_setting(const std::string& key) {
  const config::SettingSpec* spec = config::daemon_settings_catalog().find(key);
  return spec != nullptr && !spec->secret && key != "mail_root";
}

std::string problems_summary(const std::vector<Problem>& problems) {
  if (problems.empty()) return "";
  std::string out = problems.front().text();
  if (problems.size() > 1) {
    const std::size_t more = problems.size() - 1;
    out += " (and " + std::to_string(more) + (more == 1 ? " more problem" : " more problems") + ")";
  }
  return out;
}

namespace {

// A postoffice's or mailbox's stored account settings, typed by their spec, in key order.
json account_settings(const std::map<std::string, std::string>& stored) {
  json out = json::object();
  for (const auto& [key, value] : stored) out[key] = typed_setting(config::account_settings_catalog().find(key), value);
  return out;
}

}  // namespace

json export_json(const storage::ProvisioningSnapshot& snapshot, const std::string& mail_root) {
  json out = json::object();
  out["version"] = kFileVersion;
  json postoffices = json::array();
  for (const auto& p : snapshot.postoffices) {
    postoffices.push_back({{"postoffice", p.name}, {"enabled", p.enabled}, {"settings", account_settings(p.settings)}});
  }
  out["postoffices"] = std::move(postoffices);
  json mailboxes = json::array();
  for (const auto& m : snapshot.mailboxes) {
    json entry = {{"address", m.address.str()}, {"enabled", m.enabled}, {"password_hash", m.password_hash}};
    if (m.maildir != storage::default_maildir_under(mail_root, m.address)) entry["maildir"] = m.maildir;
    entry["settings"] = account_settings(m.settings);
    mailboxes.push_back(std::move(entry));
  }
  out["mailboxes"] = std::move(mailboxes);
  json services = json::array();
  for (const auto& s : snapshot.services) {
    const config::SettingsCatalog* catalog = builtin::settings_catalog(s.module);
    json settings = json::object();
    for (const auto& [key, value] : s.settings) {
      settings[key] = typed_setting(catalog ? catalog->find(key) : nullptr, value);
    }
    services.push_back({{"service", s.name}, {"module", s.module}, {"enabled", s.enabled}, {"settings", settings}});
  }
  out["services"] = std::move(services);
  json rules = json::array();
  for (const auto& r : snapshot.rules) {
    rules.push_back({{"service", r.service}, {"list", r.list}, {"rule", r.rule}, {"comment", r.comment}});
  }
  out["access_rules"] = std::move(rules);
  json daemon = json::object();
  for (const auto& [key, value] : snapshot.daemon_settings) {
    if (provisioned_daemon_setting(key)) daemon[key] = typed_setting(config::daemon_settings_catalog().find(key), value);
  }
  out["daemon_settings"] = std::move(daemon);
  return out;
}

}  // namespace mailroom::cli::provision
