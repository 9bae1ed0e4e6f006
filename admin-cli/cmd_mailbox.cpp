// mailctl mailbox add|remove|show|passwd|enable|disable|list: mailboxes, their credentials and
// their Maildir folders (DATA/mail/<postoffice>/<mailbox>/Maildir).
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <utility>

#include <nlohmann/json.hpp>

#include "admin-cli/account_settings_cli.h"
#include "admin-cli/commands.h"
#include "admin-cli/maildir_setup.h"
#include "admin-cli/uidl_import.h"
#include "admin-cli/quota_usage.h"
#include "auth/password_change.h"
#include "auth/secrets.h"
#include "daemon/builtin_modules.h"
#include "storage/address.h"
#include "storage/mail_root.h"
#include "storage/mail_store.h"

namespace mailroom::cli {

namespace fs = std::filesystem;

namespace {

// The three ways to give a password; exactly one must be used.
struct PasswordOptions {
  std::string password;
  std::string hash;
  bool from_stdin = false;
  CLI::Option* password_opt = nullptr;
  CLI::Option* hash_opt = nullptr;
  CLI::Option* stdin_opt = nullptr;
};

void add_password_options(CLI::App* cmd, PasswordOptions& o) {
  o.password_opt = cmd->add_option("--password", o.password,
                                   "The password (visible to other local users in the process "
                                   "list: prefer --password-stdin)")
                       ->type_name("P");
  o.stdin_opt = cmd->add_flag("--password-stdin", o.from_stdin,
                              "Read the password from the first line of stdin");
  o.hash_opt = cmd->add_option("--password-hash", o.hash,
                               "An existing hash: {SHA512-CRYPT}$6$..., $6$..., $argon2id$...")
                   ->type_name("HASH");
  o.password_opt->excludes(o.stdin_opt)->excludes(o.hash_opt);
  o.stdin_opt->excludes(o.hash_opt);
}

// Resolves the chosen password option; UsageError if none was given.
Result<std::pair<std::string, storage::PasswordKind>> read_password(const PasswordOptions& o,
                                                                    const std::string& command) {
  if (o.password_opt->count() > 0) {
    if (o.password.empty()) return make_error(ErrorCode::kInvalidArgument, "the password is empty");
    return std::make_pair(o.password, storage::PasswordKind::kPlaintext);
  }
  if (o.hash_opt->count() > 0) {
    if (o.hash.empty()) return make_error(ErrorCode::kInvalidArgument, "the password hash is empty");
    return std::make_pair(o.hash, storage::PasswordKind::kHash);
  }
  if (o.from_stdin) {
    std::string line;
    if (!std::getline(std::cin, line) && line.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "no password on stdin");
    }
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) line.pop_back();
    if (line.empty()) return make_error(ErrorCode::kInvalidArgument, "the password read from stdin is empty");
    return std::make_pair(std::move(line), storage::PasswordKind::kPlaintext);
  }
  throw UsageError(command + " needs one of --password P, --password-stdin or --password-hash HASH");
}

// Said when a mailbox gets an imported hash: the derived secrets need the password itself.
constexpr const char* kSecretsPendingNote =
    "SCRAM and any enabled APOP/CRAM-MD5/NTLM logins become usable after its first login with the password "
    "(mailroomd derives their secrets then)";

// The secrets the services' mechanisms need, derived from a plaintext password (none for an
// imported hash). Runs PBKDF2 for the SCRAM keys: a fraction of a second.
Result<std::vector<storage::StoredSecret>> secrets_for(storage::AccountStore& store, const std::string& password,
                                                       storage::PasswordKind kind) {
  if (kind != storage::PasswordKind::kPlaintext) return std::vector<storage::StoredSecret>{};
  auto wanted = builtin::wanted_secret_kinds(store);
  if (!wanted) return wanted.error();
  return auth::derive_secrets(password, *wanted);
}

nlohmann::ordered_json kinds_json(const std::vector<storage::StoredSecret>& secrets) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& s : secrets) out.push_back(s.kind);
  return out;
}

// Every mailbox can log in with the password hash; the derived secrets add the rest.
std::vector<std::string> login_mechanisms(const storage::MailboxInfo& m) {
  std::vector<std::string> out = {"USER/PASS", "PLAIN", "LOGIN"};
  for (auto& mech : auth::mechanisms_for_secrets(m.secret_kinds)) out.push_back(std::move(mech));
  return out;
}

std::string joined(const std::vector<std::string>& items, const std::string& none) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? none : out;
}

Result<storage::Address> parse(const std::string& raw) {
  auto address = storage::parse_address(raw);
  if (!address) return address.error();
  return address;
}

std::string status_text(const storage::MailboxInfo& m) {
  if (!m.enabled) return "disabled";
  if (!m.postoffice_enabled) return "postoffice disabled";
  return "enabled";
}

nlohmann::ordered_json mailbox_json(const storage::MailboxInfo& m) {
  return {{"address", m.address.str()},
          {"mailbox", m.address.mailbox},
          {"postoffice", m.address.postoffice},
          {"enabled", m.enabled},
          {"postoffice_enabled", m.postoffice_enabled},
          {"maildir", m.maildir},
          {"password_scheme", m.password_scheme},
          {"secret_kinds", m.secret_kinds},
          {"created_at", json_time(m.created_at)},
          {"id", m.id},
          {"settings", account_settings_json(m.settings)},
          {"postoffice_settings", account_settings_json(m.postoffice_settings)}};
}

// Messages in new/ and cur/, read-only (opening the Maildrop would complete pending deletions).
std::optional<int64_t> count_messages(const std::string& maildir) {
  int64_t n = 0;
  for (const char* sub : {"new", "cur"}) {
    std::error_code ec;
    fs::directory_iterator it(fs::path(maildir) / sub, ec);
    if (ec) return std::nullopt;
    for (const auto& entry : it) {
      if (entry.is_regular_file(ec)) ++n;
    }
  }
  return n;
}

// --maildir PATH: an existing Maildir (absolute, or relative to the current directory) that
// the new mailbox uses as it is, e.g. mail imported from another server.
Result<fs::path> existing_maildir(const std::string& raw) {
  if (raw.empty()) return make_error(ErrorCode::kInvalidArgument, "the --maildir path is empty");
  std::error_code ec;
  fs::path path = fs::absolute(fs::path(raw), ec).lexically_normal();
  if (ec) return make_error(ErrorCode::kInvalidArgument, "cannot resolve --maildir " + raw + ": " + ec.message());
  if (!path.has_filename() && path != path.root_path()) {
    path = path.parent_path();  // "dir/" normalises to "dir/" with an empty filename
  }
  if (!fs::is_directory(path, ec)) {
    // Exit 1, not 4: 4 says the mailbox or its postoffice is missing.
    return make_error(ErrorCode::kInvalidArgument,
                      "--maildir " + path.string() + " does not exist or is not a directory");
  }
  if (!fs::is_directory(path / "cur", ec) || !fs::is_directory(path / "new", ec)) {
    return make_error(ErrorCode::kInvalidArgument,
                      "--maildir " + path.string() + " is not a Maildir (it needs cur/ and new/)");
  }
  return path;
}

// What `mailbox add --maildir` does about the UIDLs an old server left in the Maildir.
struct AddUidlOptions {
  bool skip = false;   // --no-import-uidls
  std::string format;  // --uidl-format: the old Dovecot's pop3_uidl_format
};

Status run_add(const Context& ctx, const std::string& raw, const PasswordOptions& pw,
               const std::optional<std::string>& maildir_option, bool if_not_exists, const AddUidlOptions& uidls) {
  auto address = parse(raw);
  if (!address) return address.error();
  auto secret = read_password(pw, "mailbox add");
  if (!secret) return secret.error();
  std::optional<fs::path> given_maildir;
  if (maildir_option) {
    auto path = existing_maildir(*maildir_option);
    if (!path) return path.error();
    given_maildir = *path;
  }
  auto store = ctx.open_store();
  if (!store) return store.error();

  // Check the common failures first so an existing mailbox's folder is never even touched.
  if (auto po = (*store)->get_postoffice(address->postoffice); !po) {
    if (po.error().code == ErrorCode::kNotFound) {
      return make_error(ErrorCode::kNotFound, "unknown postoffice " + address->postoffice +
                                                  " (create it with 'mailctl postoffice add " +
                                                  address->postoffice + "')");
    }
    return po.error();
  }
  if ((*store)->get_mailbox(*address).ok()) {
    Error exists = make_error(ErrorCode::kAlreadyExists, "mailbox " + address->str() + " already exists");
    if (!if_not_exists) return exists;
    ctx.nothing_done(exists, {{"address", address->str()}});
    return {};
  }

  auto configured_root = storage::configured_mail_root(**store, ctx.data_dir());
  if (!configured_root) return configured_root.error();
  const fs::path root = *configured_root;
  const fs::path maildir =
      given_maildir ? *given_maildir : fs::path(storage::default_maildir_under(*configured_root, *address));
  if (!given_maildir) {
    if (Status s = storage::check_mail_root_present(ctx.data_dir(), *configured_root); !s) return s;
  }
  // Before anything is created: another mailbox's Maildir (however it is spelled) is refused
  // untouched. add_mailbox() checks again in its transaction.
  if (Status s = (*store)->check_maildir(*address, maildir.string()); !s) return s;
  // A given Maildir already exists, so nothing is created and a failure below leaves it alone.
  auto mail = storage::make_maildir_store();
  auto setup = MaildirSetup::create(*mail, maildir, root);
  if (!setup) return setup.error();
  const bool reused = setup->reused();
  auto derived = secrets_for(**store, secret->first, secret->second);
  if (!derived) {
    setup->undo();
    return derived.error();
  }
  auto info = (*store)->add_mailbox(*address, secret->first, secret->second, maildir.string(), *derived);
  if (!info) {
    setup->undo();
    return info.error();
  }
  // The mailbox exists now: a failed import is reported, and the mailbox stays (import-uidls can
  // be run again).
  std::optional<UidlImportSource> uidl_source;
  if (given_maildir && !uidls.skip) uidl_source = detect_uidl_source(maildir, uidls.format);
  std::optional<Result<storage::UidlImportReport>> imported;
  if (uidl_source) imported = import_uidl_source(*mail, maildir.string(), *uidl_source);
  std::string message = "created mailbox " + address->str();
  if (given_maildir) {
    message += " on the Maildir " + maildir.string();
  } else if (reused) {
    message += " (reusing the existing Maildir " + maildir.string() + ")";
  }
  const bool pending = secret->second == storage::PasswordKind::kHash;
  if (pending) message += std::string("; imported hash: ") + kSecretsPendingNote;
  nlohmann::ordered_json uidl_json = nullptr;
  if (imported && *imported) {
    const auto& r = **imported;
    message += "; UIDLs from " + uidl_source->file.filename().string() + ": " + std::to_string(r.kept) + " kept, " +
               skipped_text(r);
    uidl_json = {{"source", uidl_source->file.string()},
                 {"kept", r.kept},
                 {"skipped", skipped_count(r)},
                 {"skipped_reasons", skipped_reasons_json(r)}};
  }
  ctx.done(message, {{"changed", true},
                     {"address", address->str()},
                     {"maildir", maildir.string()},
                     {"reused_maildir", reused},
                     {"secret_kinds", kinds_json(*derived)},
                     {"secrets_pending", pending},
                     {"uidl_import", uidl_json}});
  if (imported && !*imported) {
    return Error{imported->error().code, "mailbox " + address->str() + " was created, but its UIDLs were not imported (" +
                                             imported->error().message + "); retry with 'mailctl mailbox import-uidls'"};
  }
  return {};
}

Status run_remove(const Context& ctx, const std::string& raw, bool purge, bool if_exists) {
  auto address = parse(raw);
  if (!address) return address.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  // The record goes first: from then on nobody can log in and open the folder we delete. With
  // --purge the store refuses (and removes nothing) while another mailbox uses that folder.
  auto info = (*store)->remove_mailbox(*address, purge ? storage::MaildirAfterRemove::kDelete
                                                       : storage::MaildirAfterRemove::kKeep);
  if (!info) {
    if (if_exists && info.error().code == ErrorCode::kNotFound) {
      ctx.nothing_done(info.error(), {{"address", address->str()}});
      return {};
    }
    if (purge && info.error().code == ErrorCode::kInUse) {
      return Error{info.error().code, info.error().message + "; nothing was removed (without --purge the record goes "
                                                             "and the Maildir stays)"};
    }
    return info.error();
  }

  const fs::path maildir = info->maildir;
  if (!purge) {
    ctx.done("removed mailbox " + address->str() + " (its Maildir is kept on disk: " + maildir.string() + ")",
             {{"changed", true}, {"address", address->str()}, {"maildir", maildir.string()}, {"purged", false}});
    return {};
  }
  std::error_code ec;
  if (!fs::exists(maildir, ec)) {
    ctx.done("removed mailbox " + address->str() + " (its Maildir " + maildir.string() + " was already gone)",
             {{"changed", true}, {"address", address->str()}, {"maildir", maildir.string()}, {"purged", true}});
    return {};
  }
  // Only delete something that looks like a Maildir: a corrupt record must not wipe a tree.
  if (!maildir.is_absolute() || !fs::is_directory(maildir / "cur", ec) || !fs::is_directory(maildir / "new", ec)) {
    return make_error(ErrorCode::kInvalidArgument, "removed mailbox " + address->str() + " but left " +
                                                       maildir.string() + " alone: it is not a Maildir");
  }
  fs::remove_all(maildir, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, "removed mailbox " + address->str() + " but could not delete " +
                                          maildir.string() + ": " + ec.message());
  }
  fs::remove(maildir.parent_path(), ec);  // the <mailbox> folder, only if now empty
  ctx.done("removed mailbox " + address->str() + " and deleted its Maildir " + maildir.string(),
           {{"changed", true}, {"address", address->str()}, {"maildir", maildir.string()}, {"purged", true}});
  return {};
}

Status run_show(const Context& ctx, const std::string& raw) {
  auto address = parse(raw);
  if (!address) return address.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto info = (*store)->get_mailbox(*address);
  if (!info) return info.error();
  auto messages = count_messages(info->maildir);
  const storage::Quota quota = storage::mailbox_quota(*info);
  const auto usage = read_usage(*storage::make_maildir_store(), info->maildir);
  const std::vector<std::string> mechanisms = login_mechanisms(*info);
  if (ctx.json) {
    nlohmann::ordered_json out = mailbox_json(*info);
    out["messages"] = messages ? nlohmann::ordered_json(*messages) : nlohmann::ordered_json(nullptr);
    out["mechanisms"] = mechanisms;
    add_quota_json(out, quota, usage);
    print_json(out);
    return {};
  }
  std::cout << "address:          " << info->address.str() << "\n"
            << "status:           " << status_text(*info) << "\n"
            << "maildir:          " << info->maildir << "\n"
            << "messages:         " << (messages ? std::to_string(*messages) : "? (Maildir unreadable)") << "\n"
            << "usage:            " << usage_text(usage) << "\n"
            << "quota:            " << quota_text(quota) << "\n"
            << "password scheme:  " << info->password_scheme << "\n"
            << "stored secrets:   " << joined(info->secret_kinds, "none") << "\n"
            << "mechanisms:       " << joined(mechanisms, "") << " (where the service enables them)\n"
            << "created:          " << format_time(info->created_at) << "\n";
  print_account_settings(std::cout, "settings:         ", info->settings);
  print_account_settings(std::cout, "postoffice's:     ", info->postoffice_settings);
  return {};
}

// A plaintext password must pass the password policy (auth/password_policy.h) unless `force`;
// a hash cannot be checked. The old password is not known here: setting the same one again is
// allowed (it rebuilds the derived secrets).
Status check_policy(storage::AccountStore& store, const storage::Address& address, const std::string& password) {
  if (auto mailbox = store.get_mailbox(address); !mailbox) return mailbox.error();  // unknown: exit 4 first
  auto policy = auth::load_password_policy(store);
  if (!policy) return policy.error();
  if (auto refusal = auth::password_refusal(*policy, password, address)) {
    return make_error(ErrorCode::kInvalidArgument, "password refused: " + *refusal + " (--force sets it anyway)");
  }
  return {};
}

Status run_passwd(const Context& ctx, const std::string& raw, const PasswordOptions& pw, bool force) {
  auto address = parse(raw);
  if (!address) return address.error();
  auto secret = read_password(pw, "mailbox passwd");
  if (!secret) return secret.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  if (secret->second == storage::PasswordKind::kPlaintext && !force) {
    if (Status s = check_policy(**store, *address, secret->first); !s) return s;
  }
  auto wanted = builtin::wanted_secret_kinds(**store);
  if (!wanted) return wanted.error();
  auto derived = auth::change_password(**store, *address, secret->first, secret->second, *wanted);
  if (!derived) return derived.error();
  const bool pending = secret->second == storage::PasswordKind::kHash;
  ctx.done("changed the password of " + address->str() +
               (pending ? std::string("; imported hash: ") + kSecretsPendingNote : std::string()),
           {{"address", address->str()}, {"secret_kinds", kinds_json(*derived)}, {"secrets_pending", pending}});
  return {};
}

Status run_enable(const Context& ctx, const std::string& raw, bool enabled) {
  auto address = parse(raw);
  if (!address) return address.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  if (Status s = (*store)->set_mailbox_enabled(*address, enabled); !s) return s;
  ctx.done(std::string(enabled ? "enabled" : "disabled") + " mailbox " + address->str(),
           {{"address", address->str()}, {"enabled", enabled}});
  return {};
}

Status run_list(const Context& ctx, const std::string& raw_postoffice) {
  std::optional<std::string> postoffice;
  if (!raw_postoffice.empty()) {
    auto name = storage::normalize_postoffice_name(raw_postoffice);
    if (!name) return name.error();
    postoffice = *name;
  }
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto list = (*store)->list_mailboxes(postoffice);
  if (!list) return list.error();
  auto mail = storage::make_maildir_store();
  if (ctx.json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const auto& m : *list) {
      nlohmann::ordered_json item = mailbox_json(m);
      add_quota_json(item, storage::mailbox_quota(m), read_usage(*mail, m.maildir));
      out.push_back(std::move(item));
    }
    print_json(out);
    return {};
  }
  if (list->empty()) {
    print_line(postoffice ? "no mailboxes in " + *postoffice : "no mailboxes");
    return {};
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : *list) {
    rows.push_back({m.address.str(), status_text(m), m.password_scheme, format_time(m.created_at),
                    usage_text(read_usage(*mail, m.maildir)), quota_text(storage::mailbox_quota(m))});
  }
  std::cout << format_table({"ADDRESS", "STATUS", "SCHEME", "CREATED", "USAGE", "QUOTA"}, rows);
  return {};
}

// Adds a subcommand taking one ADDRESS; `run` receives it.
template <class Run>
CLI::App* address_command(CLI::App* group, Context& ctx, const std::string& name,
                          const std::string& help, Run run) {
  auto address = std::make_shared<std::string>();
  CLI::App* cmd = group->add_subcommand(name, help);
  cmd->add_option("ADDRESS", *address, "mailbox@postoffice")->required();
  cmd->callback([&ctx, address, run] { ctx.action = [&ctx, address, run] { return run(ctx, *address); }; });
  return cmd;
}

}  // namespace

void add_mailbox_commands(CLI::App& app, Context& ctx) {
  CLI::App* group = app.add_subcommand("mailbox", "Manage mailboxes (users)");
  group->require_subcommand(1);

  auto add_pw = std::make_shared<PasswordOptions>();
  auto add_maildir = std::make_shared<std::string>();
  auto add_maildir_opt = std::make_shared<CLI::Option*>(nullptr);
  auto add_if_not_exists = std::make_shared<bool>(false);
  auto add_uidls = std::make_shared<AddUidlOptions>();
  CLI::App* add = address_command(
      group, ctx, "add", "Create a mailbox and its Maildir",
      [add_pw, add_maildir, add_maildir_opt, add_if_not_exists, add_uidls](const Context& c, const std::string& a) {
        std::optional<std::string> maildir;
        if ((*add_maildir_opt)->count() > 0) maildir = *add_maildir;
        return run_add(c, a, *add_pw, maildir, *add_if_not_exists, *add_uidls);
      });
  add_password_options(add, *add_pw);
  add_if_not_exists_flag(add, *add_if_not_exists);
  *add_maildir_opt = add->add_option("--maildir", *add_maildir,
                  "Use this existing Maildir (with cur/ and new/) instead of creating "
                  "DATA/mail/<postoffice>/<mailbox>/Maildir; relative to the current directory")
      ->type_name("PATH");
  add->add_flag("--no-import-uidls", add_uidls->skip,
                 "Do not import the UIDLs of a dovecot-uidlist or courierpop3dsizelist found in the --maildir");
  add->add_option("--uidl-format", add_uidls->format,
                  "The old Dovecot's pop3_uidl_format, for its messages without an explicit UIDL (default "
                  "%08Xu%08Xv)")
      ->type_name("TEMPLATE");

  auto purge = std::make_shared<bool>(false);
  auto rm_if_exists = std::make_shared<bool>(false);
  CLI::App* rm = address_command(group, ctx, "remove", "Remove a mailbox (its Maildir stays unless --purge)",
                                 [purge, rm_if_exists](const Context& c, const std::string& a) {
                                   return run_remove(c, a, *purge, *rm_if_exists);
                                 });
  rm->add_flag("--purge", *purge, "Also delete its Maildir and every message in it");
  add_if_exists_flag(rm, *rm_if_exists);

  address_command(group, ctx, "show", "Show one mailbox", run_show);
  add_import_uidls_command(group, ctx);
  add_repair_uidls_command(group, ctx);

  auto passwd_pw = std::make_shared<PasswordOptions>();
  auto passwd_force = std::make_shared<bool>(false);
  CLI::App* passwd = address_command(group, ctx, "passwd", "Change a mailbox's password",
                                     [passwd_pw, passwd_force](const Context& c, const std::string& a) {
                                       return run_passwd(c, a, *passwd_pw, *passwd_force);
                                     });
  add_password_options(passwd, *passwd_pw);
  passwd->add_flag("--force", *passwd_force,
                   "Set the password even if the password policy refuses it (password_min_length, the "
                   "mailbox's name; docs/poppassd.md)");

  address_command(group, ctx, "enable", "Allow logins to a mailbox",
                  [](const Context& c, const std::string& a) { return run_enable(c, a, true); });
  address_command(group, ctx, "disable", "Refuse logins to a mailbox (its mail is kept)",
                  [](const Context& c, const std::string& a) { return run_enable(c, a, false); });

  auto list_po = std::make_shared<std::string>();
  CLI::App* list = group->add_subcommand("list", "List mailboxes, all or of one postoffice");
  list->add_option("POSTOFFICE", *list_po, "Only this postoffice's mailboxes");
  list->callback([&ctx, list_po] { ctx.action = [&ctx, list_po] { return run_list(ctx, *list_po); }; });

  add_account_setting_commands(group, ctx, AccountSettingsOwner::kMailbox);
}

}  // namespace mailroom::cli
