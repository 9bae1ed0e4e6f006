// mailctl postoffice add|remove|list|show: the domains mailboxes live in.
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/base/count_text.h"
#include "admin-cli/account_settings_cli.h"
#include "admin-cli/commands.h"
#include "admin-cli/quota_usage.h"
#include "storage/address.h"

namespace mailroom::cli {

namespace {

nlohmann::ordered_json postoffice_json(const storage::PostofficeInfo& p) {
  return {{"postoffice", p.name},
          {"enabled", p.enabled},
          {"mailbox_count", p.mailbox_count},
          {"created_at", json_time(p.created_at)},
          {"settings", account_settings_json(p.settings)}};
}

Status run_add(const Context& ctx, const std::string& raw, bool if_not_exists) {
  auto name = storage::normalize_postoffice_name(raw);
  if (!name) return name.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  if (Status s = (*store)->add_postoffice(*name); !s) {
    if (if_not_exists && s.error().code == ErrorCode::kAlreadyExists) {
      ctx.nothing_done(s.error(), {{"postoffice", *name}});
      return {};
    }
    return s;
  }
  ctx.done("created postoffice " + *name, {{"changed", true}, {"postoffice", *name}});
  return {};
}

Status run_remove(const Context& ctx, const std::string& raw, bool force, bool if_exists) {
  auto name = storage::normalize_postoffice_name(raw);
  if (!name) return name.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto info = (*store)->get_postoffice(*name);
  if (!info) {
    if (if_exists && info.error().code == ErrorCode::kNotFound) {
      ctx.nothing_done(info.error(), {{"postoffice", *name}});
      return {};
    }
    return info.error();
  }
  if (info->mailbox_count > 0 && !force) {
    return make_error(ErrorCode::kInvalidArgument,
                      "postoffice " + *name + " still has " + counted(info->mailbox_count, "mailbox", "mailboxes") +
                          " (remove them first, or use --force to remove their records too)");
  }
  if (Status s = (*store)->remove_postoffice(*name, force); !s) return s;
  std::string message = "removed postoffice " + *name;
  if (info->mailbox_count > 0) {
    message += " and the records of its " + counted(info->mailbox_count, "mailbox", "mailboxes") +
               " (their Maildirs are kept on disk under " + ctx.mail_root() + "/" + *name + ")";
  }
  ctx.done(message, {{"changed", true},
                     {"postoffice", *name},
                     {"removed_mailboxes", info->mailbox_count},
                     {"maildirs_kept", true}});
  return {};
}

Status run_list(const Context& ctx) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto list = (*store)->list_postoffices();
  if (!list) return list.error();
  if (ctx.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& p : *list) out.push_back(postoffice_json(p));
    print_json(out);
    return {};
  }
  if (list->empty()) {
    print_line("no postoffices (add one with 'mailctl postoffice add NAME')");
    return {};
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& p : *list) {
    rows.push_back({p.name, yes_no(p.enabled), std::to_string(p.mailbox_count), format_time(p.created_at)});
  }
  std::cout << format_table({"NAME", "ENABLED", "MAILBOXES", "CREATED"}, rows);
  return {};
}

Status run_show(const Context& ctx, const std::string& raw) {
  auto name = storage::normalize_postoffice_name(raw);
  if (!name) return name.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto info = (*store)->get_postoffice(*name);
  if (!info) return info.error();
  auto mailboxes = (*store)->list_mailboxes(info->name);
  if (!mailboxes) return mailboxes.error();
  const PostofficeUsage usage = postoffice_usage(*storage::make_maildir_store(), *mailboxes);
  const storage::Quota defaults = storage::quota_from_settings(info->settings);
  if (ctx.json) {
    nlohmann::ordered_json out = postoffice_json(*info);
    add_quota_json(out, defaults, usage.total);
    out["unreadable_maildirs"] = usage.unreadable;
    print_json(out);
    return {};
  }
  std::cout << "name:       " << info->name << "\n"
            << "enabled:    " << yes_no(info->enabled) << "\n"
            << "mailboxes:  " << info->mailbox_count << "\n"
            << "usage:      " << usage_text(usage.total)
            << (usage.unreadable > 0 ? " (" + counted(usage.unreadable, "Maildir", "Maildirs") + " unreadable, not counted)" : "")
            << "\n"
            << "quota:      " << quota_text(defaults) << " (each mailbox's default)\n"
            << "created:    " << format_time(info->created_at) << "\n";
  print_account_settings(std::cout, "settings:   ", info->settings);
  return {};
}

Status run_enable(const Context& ctx, const std::string& name, bool enabled) {
  auto store = ctx.open_store();
  if (!store) return store.error();
  if (Status s = (*store)->set_postoffice_enabled(name, enabled); !s) return s;
  auto info = (*store)->get_postoffice(name);
  if (!info) return info.error();
  ctx.done(std::string(enabled ? "enabled" : "disabled") + " postoffice " + info->name +
               (enabled ? "" : " (logins to its " + counted(info->mailbox_count, "mailbox", "mailboxes") + " are refused; mail is kept)"),
           {{"postoffice", info->name}, {"enabled", enabled}});
  return {};
}

}  // namespace

void add_postoffice_commands(CLI::App& app, Context& ctx) {
  CLI::App* group = app.add_subcommand("postoffice", "Manage postoffices (mail domains)");
  group->require_subcommand(1);

  auto add_name = std::make_shared<std::string>();
  auto add_if_not_exists = std::make_shared<bool>(false);
  CLI::App* add = group->add_subcommand("add", "Create a postoffice");
  add->add_option("NAME", *add_name, "Postoffice name, e.g. example.test")->required();
  add_if_not_exists_flag(add, *add_if_not_exists);
  add->callback([&ctx, add_name, add_if_not_exists] {
    ctx.action = [&ctx, add_name, add_if_not_exists] { return run_add(ctx, *add_name, *add_if_not_exists); };
  });

  auto rm_name = std::make_shared<std::string>();
  auto rm_force = std::make_shared<bool>(false);
  auto rm_if_exists = std::make_shared<bool>(false);
  CLI::App* rm = group->add_subcommand("remove", "Remove a postoffice");
  rm->add_option("NAME", *rm_name, "Postoffice name")->required();
  rm->add_flag("--force", *rm_force,
               "Also remove the records of its mailboxes (their Maildirs stay on disk)");
  add_if_exists_flag(rm, *rm_if_exists);
  rm->callback([&ctx, rm_name, rm_force, rm_if_exists] {
    ctx.action = [&ctx, rm_name, rm_force, rm_if_exists] { return run_remove(ctx, *rm_name, *rm_force, *rm_if_exists); };
  });

  CLI::App* list = group->add_subcommand("list", "List postoffices");
  list->callback([&ctx] { ctx.action = [&ctx] { return run_list(ctx); }; });

  for (bool enabled : {true, false}) {
    auto name = std::make_shared<std::string>();
    CLI::App* cmd = group->add_subcommand(
        enabled ? "enable" : "disable",
        enabled ? "Allow logins to a postoffice's mailboxes" : "Refuse logins to every mailbox of a postoffice (mail is kept)");
    cmd->add_option("NAME", *name, "Postoffice name")->required();
    cmd->callback([&ctx, name, enabled] { ctx.action = [&ctx, name, enabled] { return run_enable(ctx, *name, enabled); }; });
  }

  auto show_name = std::make_shared<std::string>();
  CLI::App* show = group->add_subcommand("show", "Show one postoffice");
  show->add_option("NAME", *show_name, "Postoffice name")->required();
  show->callback([&ctx, show_name] { ctx.action = [&ctx, show_name] { return run_show(ctx, *show_name); }; });

  add_account_setting_commands(group, ctx, AccountSettingsOwner::kPostoffice);
}

}  // namespace mailroom::cli
