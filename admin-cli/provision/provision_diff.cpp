// The diff of an apply: changes in the order the database accepts them (what others depend on
// is added first and removed last).
#include "admin-cli/provision/provision_diff.h"

#include <map>
#include <set>
#include <tuple>

#include "core/config/account_settings.h"
#include "core/config/daemon_settings.h"
#include "daemon/builtin_modules.h"
#include "storage/mail_root.h"

namespace mailroom::cli::provision {

namespace {

using json = nlohmann::ordered_json;
namespace op = storage::provision_op;

std::string on_off(bool enabled) { return enabled ? "true" : "false"; }

std::string rule_name(const storage::ProvisionedRule& r) { return r.service + " " + r.list + " " + r.rule; }

json rule_json(const char* action, const storage::ProvisionedRule& r) {
  return {{"action", action}, {"object", "access_rule"}, {"service", r.service}, {"list", r.list}, {"rule", r.rule}};
}

// A setting's value for the diff line: strings quoted, like 'mailctl service show'.
std::string shown(const config::SettingSpec* spec, const std::string& value) {
  return spec != nullptr && spec->type == config::SettingType::kString ? "\"" + value + "\"" : value;
}

// An account setting's value for the diff: as shown(), "(unset)" when not stored.
std::string shown_account(const config::SettingSpec* spec, const std::optional<std::string>& value) {
  return value ? shown(spec, *value) : "(unset)";
}

json typed_account(const config::SettingSpec* spec, const std::optional<std::string>& value) {
  return value ? typed_setting(spec, *value) : json(nullptr);
}

const std::map<std::string, std::string> kNoSettings;

class Planner {
 public:
  Planner(const storage::ProvisioningSnapshot& current, const DesiredState& desired,
          const std::vector<ResolvedPassword>& passwords, const std::string& mail_root, bool prune)
      : current_(current), desired_(desired), passwords_(passwords), mail_root_(mail_root), prune_(prune) {
    for (const auto& p : current.postoffices) postoffices_.emplace(p.name, &p);
    for (const auto& m : current.mailboxes) mailboxes_.emplace(m.address.str(), &m);
    for (const auto& s : current.services) services_.emplace(s.name, &s);
    for (const auto& r : current.rules) rules_.emplace(std::make_tuple(r.service, r.list, r.rule), &r);
  }

  Plan run() {
    decide_removals();
    plan_postoffices();
    plan_services();
    plan_mailboxes();
    plan_rules();
    plan_daemon_settings();
    plan_removals();
    return std::move(plan_);
  }

 private:
  void add(std::string text, json j, storage::ProvisionOp o) {
    plan_.changes.push_back(Change{std::move(text), std::move(j), std::move(o)});
  }
  void problem(const std::string& path, const std::string& message) { plan_.problems.push_back({path, message}); }

  // What --prune removes, decided first: the checks below need to know what stays.
  void decide_removals() {
    if (!prune_) return;
    if (desired_.postoffices) {
      std::set<std::string> keep;
      for (const auto& p : *desired_.postoffices) keep.insert(p.name);
      for (const auto& p : current_.postoffices) {
        if (keep.count(p.name) == 0) removed_postoffices_.insert(p.name);
      }
    }
    if (desired_.services) {
      std::set<std::string> keep;
      for (const auto& s : *desired_.services) keep.insert(s.name);
      for (const auto& s : current_.services) {
        if (keep.count(s.name) == 0) removed_services_.insert(s.name);
      }
    }
  }

  bool postoffice_after_apply(const std::string& name) const {
    if (removed_postoffices_.count(name) > 0) return false;
    if (postoffices_.count(name) > 0) return true;
    if (!desired_.postoffices) return false;
    for (const auto& p : *desired_.postoffices) {
      if (p.name == name) return true;
    }
    return false;
  }

  bool service_after_apply(const std::string& name) const {
    if (removed_services_.count(name) > 0) return false;
    if (services_.count(name) > 0) return true;
    if (!desired_.services) return false;
    for (const auto& s : *desired_.services) {
      if (s.name == name) return true;
    }
    return false;
  }

  void plan_postoffices() {
    if (!desired_.postoffices) return;
    for (const auto& p : *desired_.postoffices) {
      auto it = postoffices_.find(p.name);
      if (it == postoffices_.end()) {
        add("+ postoffice " + p.name + (p.enabled ? "" : " (disabled)"),
            {{"action", "add"}, {"object", "postoffice"}, {"postoffice", p.name}, {"enabled", p.enabled}},
            op::AddPostoffice{p.name, p.enabled});
      } else if (it->second->enabled != p.enabled) {
        add("~ postoffice " + p.name + " enabled " + on_off(!p.enabled) + " -> " + on_off(p.enabled),
            {{"action", "change"}, {"object", "postoffice"}, {"postoffice", p.name}, {"key", "enabled"},
             {"from", !p.enabled}, {"to", p.enabled}},
            op::SetPostofficeEnabled{p.name, p.enabled});
      }
      plan_account_settings("postoffice", "postoffice", p.name, p.settings,
                            it == postoffices_.end() ? kNoSettings : it->second->settings,
                            [&](const std::string& key, const std::optional<std::string>& value) -> storage::ProvisionOp {
                              return op::SetPostofficeSetting{p.name, key, value};
                            });
    }
  }

  // The account settings of one postoffice or mailbox (`object`, named `name` under `name_key`
  // in the JSON): every key the
  // file gives that differs from the stored value; with --prune, stored keys the file leaves out
  // are removed. Unlike a service setting, a value equal to the catalog's default is stored: it
  // overrides the postoffice's (or the service's) value.
  template <class MakeOp>
  void plan_account_settings(const std::string& object, const char* name_key, const std::string& name,
                             const std::map<std::string, std::string>& wanted,
                             const std::map<std::string, std::string>& stored, MakeOp make_op) {
    auto change = [&](const std::string& key, const std::optional<std::string>& from,
                      const std::optional<std::string>& to) {
      const config::SettingSpec* spec = config::account_settings_catalog().find(key);
      add("~ " + object + " " + name + " " + key + " " + shown_account(spec, from) + " -> " + shown_account(spec, to),
          {{"action", "change"}, {"object", "setting"}, {name_key, name}, {"key", key},
           {"from", typed_account(spec, from)}, {"to", typed_account(spec, to)}},
          make_op(key, to));
    };
    for (const auto& [key, value] : wanted) {
      auto was = stored.find(key);
      if (was == stored.end()) {
        change(key, std::nullopt, value);
      } else if (was->second != value) {
        change(key, was->second, value);
      }
    }
    if (!prune_) return;
    for (const auto& [key, value] : stored) {
      if (wanted.count(key) == 0) change(key, value, std::nullopt);
    }
  }

  void setting_change(const std::string& service, const config::SettingsCatalog* catalog, const std::string& key,
                      const std::optional<std::string>& from, const std::optional<std::string>& to) {
    const config::SettingSpec* spec = catalog ? catalog->find(key) : nullptr;
    const std::string def = spec ? spec->default_value : "";
    const std::string before = from ? *from : def;
    const std::string after = to ? *to : def;
    add("~ service " + service + " " + key + " " + shown(spec, before) + " -> " + shown(spec, after) +
            (to ? "" : " (default)"),
        {{"action", "change"}, {"object", "setting"}, {"service", service}, {"key", key},
         {"from", typed_setting(spec, before)}, {"to", typed_setting(spec, after)}},
        op::SetSetting{service, key, to});
  }

  // Keys the file gives that differ from the stored value; with --prune, stored keys the file
  // leaves out go back to their defaults (never the ones no file carries: secrets, mail_root).
  void plan_daemon_settings() {
    if (!desired_.daemon_settings) return;
    const auto& wanted = *desired_.daemon_settings;
    const auto& stored = current_.daemon_settings;
    auto change = [&](const std::string& key, const std::optional<std::string>& from,
                      const std::optional<std::string>& to) {
      const config::SettingSpec* spec = config::daemon_settings_catalog().find(key);
      const std::string def = spec ? spec->default_value : "";
      const std::string before = from ? *from : def;
      const std::string after = to ? *to : def;
      add("~ daemon " + key + " " + shown(spec, before) + " -> " + shown(spec, after) + (to ? "" : " (default)"),
          {{"action", "change"}, {"object", "daemon_setting"}, {"key", key},
           {"from", typed_setting(spec, before)}, {"to", typed_setting(spec, after)}},
          op::SetDaemonSetting{key, to});
    };
    for (const auto& [key, value] : wanted) {
      auto was = stored.find(key);
      if (was == stored.end() || was->second != value) {
        change(key, was == stored.end() ? std::nullopt : std::optional(was->second), value);
      }
    }
    if (!prune_) return;
    for (const auto& [key, value] : stored) {
      if (wanted.count(key) == 0 && provisioned_daemon_setting(key)) change(key, value, std::nullopt);
    }
  }

  void plan_services() {
    if (!desired_.services) return;
    for (const auto& s : *desired_.services) {
      const config::SettingsCatalog* catalog = builtin::settings_catalog(s.module);
      auto it = services_.find(s.name);
      std::map<std::string, std::string> stored;
      if (it == services_.end()) {
        add("+ service " + s.name + " (module " + s.module + (s.enabled ? "" : ", disabled") + ")",
            {{"action", "add"}, {"object", "service"}, {"service", s.name}, {"module", s.module}, {"enabled", s.enabled}},
            op::AddService{s.name, s.module, s.enabled});
      } else {
        const storage::ServiceRecord& rec = *it->second;
        if (rec.module != s.module) {
          problem(s.path + ".module", "service " + s.name + " uses module " + rec.module +
                                          "; apply does not change a service's module (remove it first)");
          continue;
        }
        if (rec.enabled != s.enabled) {
          add("~ service " + s.name + " enabled " + on_off(rec.enabled) + " -> " + on_off(s.enabled),
              {{"action", "change"}, {"object", "service"}, {"service", s.name}, {"key", "enabled"},
               {"from", rec.enabled}, {"to", s.enabled}},
              op::SetServiceEnabled{s.name, s.enabled});
        }
        stored = rec.settings;
      }
      for (const auto& [key, value] : s.settings) {
        auto was = stored.find(key);
        if (was != stored.end() && was->second == value) continue;
        const config::SettingSpec* spec = catalog ? catalog->find(key) : nullptr;
        // Not stored and equal to the default: storing it would change nothing the daemon sees,
        // and the next export would differ from the file.
        if (was == stored.end() && spec != nullptr && spec->default_value == value) continue;
        setting_change(s.name, catalog, key, was == stored.end() ? std::nullopt : std::optional(was->second), value);
      }
      if (prune_) {
        for (const auto& [key, value] : stored) {
          if (s.settings.count(key) == 0) setting_change(s.name, catalog, key, value, std::nullopt);
        }
      }
    }
  }

  void plan_mailboxes() {
    if (!desired_.mailboxes) return;
    const auto& list = *desired_.mailboxes;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const DesiredMailbox& m = list[i];
      const ResolvedPassword& pw = passwords_[i];
      const std::string name = m.address.str();
      if (!postoffice_after_apply(m.address.postoffice)) {
        problem(m.path + ".address",
                "postoffice " + m.address.postoffice +
                    (removed_postoffices_.count(m.address.postoffice) ? " is removed by --prune (it is not in postoffices)"
                                                                     : " is neither in the file nor in the database"));
        continue;
      }
      auto it = mailboxes_.find(name);
      if (it == mailboxes_.end()) {
        const std::string maildir = m.maildir ? *m.maildir : storage::default_maildir_under(mail_root_, m.address);
        add("+ mailbox " + name + (m.enabled ? "" : " (disabled)") + (m.maildir ? " on the Maildir " + maildir : ""),
            {{"action", "add"}, {"object", "mailbox"}, {"address", name}, {"enabled", m.enabled}, {"maildir", maildir}},
            op::AddMailbox{m.address, m.enabled, pw.hash, maildir, pw.secrets});
        plan_mailbox_settings(m, kNoSettings);
        continue;
      }
      const storage::ProvisionedMailbox& cur = *it->second;
      if (m.maildir && *m.maildir != cur.maildir) {
        problem(m.path + ".maildir", "mailbox " + name + " has the Maildir " + cur.maildir +
                                         "; apply does not move a Maildir (leave maildir out to keep it)");
        continue;
      }
      if (pw.changed) {
        add("~ mailbox " + name + " password",
            {{"action", "change"}, {"object", "mailbox"}, {"address", name}, {"key", "password"}},
            op::SetPassword{m.address, pw.hash, pw.secrets});
      }
      if (cur.enabled != m.enabled) {
        add("~ mailbox " + name + " enabled " + on_off(cur.enabled) + " -> " + on_off(m.enabled),
            {{"action", "change"}, {"object", "mailbox"}, {"address", name}, {"key", "enabled"},
             {"from", cur.enabled}, {"to", m.enabled}},
            op::SetMailboxEnabled{m.address, m.enabled});
      }
      plan_mailbox_settings(m, cur.settings);
    }
  }

  void plan_mailbox_settings(const DesiredMailbox& m, const std::map<std::string, std::string>& stored) {
    plan_account_settings("mailbox", "address", m.address.str(), m.settings, stored,
                          [&](const std::string& key, const std::optional<std::string>& value) -> storage::ProvisionOp {
                            return op::SetMailboxSetting{m.address, key, value};
                          });
  }

  void plan_rules() {
    if (!desired_.access_rules) return;
    for (const auto& d : *desired_.access_rules) {
      const auto& r = d.rule;
      if (!service_after_apply(r.service)) {
        problem(d.path + ".service", "service " + r.service +
                                         (removed_services_.count(r.service) ? " is removed by --prune (it is not in services)"
                                                                             : " is neither in the file nor in the database"));
        continue;
      }
      auto it = rules_.find(std::make_tuple(r.service, r.list, r.rule));
      if (it == rules_.end()) {
        json j = rule_json("add", r);
        j["comment"] = r.comment;
        add("+ access_rule " + rule_name(r), std::move(j), op::AddRule{r});
      } else if (it->second->comment != r.comment) {
        json j = rule_json("change", r);
        j["key"] = "comment";
        j["from"] = it->second->comment;
        j["to"] = r.comment;
        add("~ access_rule " + rule_name(r) + " comment \"" + it->second->comment + "\" -> \"" + r.comment + "\"",
            std::move(j), op::SetRuleComment{r});
      }
    }
  }

  // Rules, then mailboxes, then services and postoffices: each after what depends on it.
  void plan_removals() {
    if (!prune_) return;
    std::set<std::tuple<std::string, std::string, std::string>> keep_rules;
    if (desired_.access_rules) {
      for (const auto& d : *desired_.access_rules) keep_rules.emplace(d.rule.service, d.rule.list, d.rule.rule);
    }
    for (const auto& r : current_.rules) {
      const bool pruned = desired_.access_rules && keep_rules.count(std::make_tuple(r.service, r.list, r.rule)) == 0;
      if (pruned || removed_services_.count(r.service) > 0) {
        add("- access_rule " + rule_name(r), rule_json("remove", r), op::RemoveRule{r});
      }
    }
    std::set<std::string> keep_mailboxes;
    if (desired_.mailboxes) {
      for (const auto& m : *desired_.mailboxes) keep_mailboxes.insert(m.address.str());
    }
    for (const auto& m : current_.mailboxes) {
      const bool pruned = desired_.mailboxes && keep_mailboxes.count(m.address.str()) == 0;
      if (pruned || removed_postoffices_.count(m.address.postoffice) > 0) {
        add("- mailbox " + m.address.str() + " (its Maildir is kept: " + m.maildir + ")",
            {{"action", "remove"}, {"object", "mailbox"}, {"address", m.address.str()}, {"maildir", m.maildir}},
            op::RemoveMailbox{m.address});
      }
    }
    for (const auto& name : removed_services_) {
      add("- service " + name, {{"action", "remove"}, {"object", "service"}, {"service", name}},
          op::RemoveService{name});
    }
    for (const auto& name : removed_postoffices_) {
      add("- postoffice " + name, {{"action", "remove"}, {"object", "postoffice"}, {"postoffice", name}},
          op::RemovePostoffice{name});
    }
  }

  const storage::ProvisioningSnapshot& current_;
  const DesiredState& desired_;
  const std::vector<ResolvedPassword>& passwords_;
  const std::string mail_root_;  // where a mailbox without a maildir gets one
  const bool prune_;
  std::map<std::string, const storage::ProvisionedPostoffice*> postoffices_;
  std::map<std::string, const storage::ProvisionedMailbox*> mailboxes_;
  std::map<std::string, const storage::ServiceRecord*> services_;
  std::map<std::tuple<std::string, std::string, std::string>, const storage::ProvisionedRule*> rules_;
  std::set<std::string> removed_postoffices_;
  std::set<std::string> removed_services_;
  Plan plan_;
};

}  // namespace

Plan plan_changes(const storage::ProvisioningSnapshot& current, const DesiredState& desired,
                  const std::vector<ResolvedPassword>& passwords, const std::string& mail_root, bool prune) {
  return Planner(current, desired, passwords, mail_root, prune).run();
}

}  // namespace mailroom::cli::provision
