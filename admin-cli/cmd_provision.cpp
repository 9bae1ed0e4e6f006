// mailctl export and apply: the database's configuration as one JSON file, and making the
// database match such a file in one transaction (docs/provisioning.md).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "admin-cli/maildir_setup.h"
#include "admin-cli/service_checks.h"
#include "admin-cli/service_lookup.h"
#include "admin-cli/provision/provision_diff.h"
#include "admin-cli/provision/provision_file.h"
#include "admin-cli/provision/provision_passwords.h"
#include "daemon/builtin_modules.h"
#include "storage/mail_root.h"
#include "storage/mail_store.h"
#include "storage/node/node_settings_file.h"
#include "storage/provisioning.h"
#include "storage/store_factory.h"

namespace mailroom::cli {

namespace {

namespace pv = provision;
using json = nlohmann::ordered_json;

// The largest provisioning file apply reads (100,000 mailboxes with hashes are ~20 MiB).
constexpr std::size_t kMaxProvisioningFileBytes = 256u << 20;

Result<std::unique_ptr<storage::ProvisioningStore>> open_provisioning(const Context& ctx) {
  // The same checks and message as every other command when the data directory is missing.
  if (auto accounts = ctx.open_store(); !accounts) return accounts.error();
  return storage::open_provisioning_store(ctx.data_dir(), ctx.database_option);
}

// Where mailboxes get their Maildir by default (the mail_root daemon setting, else DATA/mail).
Result<std::string> mail_root_of(const Context& ctx) {
  auto accounts = ctx.open_store();
  if (!accounts) return accounts.error();
  return storage::configured_mail_root(**accounts, ctx.data_dir());
}

Status run_export(const Context& ctx) {
  auto store = open_provisioning(ctx);
  if (!store) return store.error();
  auto snapshot = (*store)->provisioning_snapshot();
  if (!snapshot) return snapshot.error();
  auto root = mail_root_of(ctx);
  if (!root) return root.error();
  print_json(pv::export_json(*snapshot, *root));
  return {};
}

Result<std::string> read_input(const std::string& file) {
  std::ifstream in_file;
  std::istream* in = &std::cin;
  if (file != "-") {
    in_file.open(file, std::ios::binary);
    if (!in_file) return make_error(ErrorCode::kNotFound, "cannot open " + file);
    in = &in_file;
  }
  std::string text;
  char buf[65536];
  while (in->read(buf, sizeof buf) || in->gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in->gcount()));
    if (text.size() > kMaxProvisioningFileBytes) {
      return make_error(ErrorCode::kInvalidArgument, (file == "-" ? std::string("stdin") : file) + " is larger than " +
                                                         std::to_string(kMaxProvisioningFileBytes >> 20) + " MiB");
    }
  }
  if (in->bad()) return make_error(ErrorCode::kIo, "cannot read " + file);
  return text;
}

// The services as they will be after the apply (the file's over the stored ones): which derived
// secrets a plaintext password needs. Disabled services count, as in 'mailbox add'.
std::vector<storage::ServiceRecord> services_after(const storage::ProvisioningSnapshot& current,
                                                   const pv::DesiredState& desired, bool prune) {
  std::vector<storage::ServiceRecord> out = current.services;
  if (!desired.services) return out;
  if (prune) out.clear();
  for (const auto& d : *desired.services) {
    storage::ServiceRecord* rec = nullptr;
    for (auto& r : out) {
      if (r.name == d.name) rec = &r;
    }
    if (rec == nullptr) rec = &out.emplace_back(storage::ServiceRecord{d.name, d.module, d.enabled, {}});
    rec->enabled = d.enabled;
    if (prune) rec->settings.clear();
    for (const auto& [key, value] : d.settings) rec->settings[key] = value;
  }
  return out;
}

// The listener checks of 'service set' (ports used twice, implicit TLS without a certificate, a
// bind address the machine lacks) for every service the file adds or changes, against the
// services as they will be.
Status check_changed_services(const Context& ctx, const storage::ProvisioningSnapshot& current,
                              const pv::DesiredState& desired, bool prune) {
  const std::vector<storage::ServiceRecord> after = services_after(current, desired, prune);
  auto node = storage::read_node_settings(ctx.data_dir());  // this node's listeners count as set there
  if (!node) return node.error();
  for (const auto& rec : after) {
    bool unchanged = false;
    for (const auto& before : current.services) {
      unchanged = unchanged || (before.name == rec.name && before.enabled == rec.enabled &&
                                before.settings == rec.settings && before.module == rec.module);
    }
    if (unchanged) continue;
    if (Status s = check_service_listeners(ctx.data_dir(), after, *node, rec.name, ""); !s) return s;
  }
  return {};
}

// "\rhashing passwords  4,000/10,000 [#######.........]" on stderr, only on a terminal.
void show_progress(std::size_t done, std::size_t total) {
  constexpr int kWidth = 30;
  const int filled = total == 0 ? kWidth : static_cast<int>(done * kWidth / total);
  std::fprintf(stderr, "\rhashing passwords %zu/%zu [%s%s]", done, total, std::string(filled, '#').c_str(),
               std::string(kWidth - filled, '.').c_str());
  if (done == total) std::fputc('\n', stderr);
  std::fflush(stderr);
}

// Creates the Maildirs of the mailboxes the plan adds (undone if that fails).
Result<std::vector<MaildirSetup>> create_maildirs(const Context& ctx, const pv::Plan& plan, const std::string& root) {
  std::vector<std::string> dirs;
  for (const auto& change : plan.changes) {
    if (const auto* add = std::get_if<storage::provision_op::AddMailbox>(&change.op)) dirs.push_back(add->maildir);
  }
  if (dirs.empty()) return std::vector<MaildirSetup>{};
  if (Status s = storage::check_mail_root_present(ctx.data_dir(), root); !s) return s.error();
  auto mail = storage::make_maildir_store();
  auto made = MaildirSetup::create_all(*mail, dirs, root);
  if (!made) return Error{made.error().code, "cannot create the Maildirs: " + made.error().message + "; nothing was changed"};
  return made;
}

// A setting that switched off a legacy mechanism leaves plaintext equivalents nobody needs:
// deleted as 'service set' does (after the commit, like there).
Status purge_after(const Context& ctx, const pv::Plan& plan) {
  bool settings_changed = false;
  for (const auto& change : plan.changes) {
    settings_changed = settings_changed || std::holds_alternative<storage::provision_op::SetSetting>(change.op) ||
                       std::holds_alternative<storage::provision_op::RemoveService>(change.op);
  }
  if (!settings_changed) return {};
  auto accounts = ctx.open_store();
  if (!accounts) return accounts.error();
  if (auto purged = purge_unwanted_secrets(**accounts); !purged) {
    return Error{purged.error().code, "applied the file, but could not delete the secrets no mechanism needs any "
                                      "more: " + purged.error().message + " (apply it again)"};
  }
  return {};
}

struct ApplyArgs {
  std::string file;
  bool dry_run = false;
  bool prune = false;
};

Status run_apply(const Context& ctx, const ApplyArgs& a) {
  const std::string source = a.file == "-" ? "stdin" : a.file;
  auto text = read_input(a.file);
  if (!text) return text.error();
  pv::ParsedFile parsed = pv::parse_provisioning_file(*text);
  if (!parsed.problems.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "refused " + source + ": " + pv::problems_summary(parsed.problems) + "; nothing was changed");
  }
  auto store = open_provisioning(ctx);
  if (!store) return store.error();
  auto current = (*store)->provisioning_snapshot();
  if (!current) return current.error();

  std::vector<pv::ResolvedPassword> passwords;
  if (parsed.state.mailboxes) {
    pv::PasswordJob job;
    job.desired = &parsed.state;
    job.current = &*current;
    job.secret_kinds = builtin::wanted_secret_kinds(services_after(*current, parsed.state, a.prune));
    job.dry_run = a.dry_run;
    job.threads = std::max(1u, std::thread::hardware_concurrency());
    if (::isatty(STDERR_FILENO) == 1) job.progress = show_progress;
    auto resolved = pv::resolve_passwords(job);
    if (!resolved) return Error{resolved.error().code, "refused " + source + ": " + resolved.error().message};
    passwords = std::move(*resolved);
  }

  auto root = mail_root_of(ctx);
  if (!root) return root.error();
  pv::Plan plan = pv::plan_changes(*current, parsed.state, passwords, *root, a.prune);
  if (!plan.problems.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "refused " + source + ": " + pv::problems_summary(plan.problems) + "; nothing was changed");
  }
  if (Status s = check_changed_services(ctx, *current, parsed.state, a.prune); !s) {
    return Error{s.error().code, "refused " + source + ": " + s.error().message + "; nothing was changed"};
  }

  if (!a.dry_run && !plan.changes.empty()) {
    auto maildirs = create_maildirs(ctx, plan, *root);
    if (!maildirs) return maildirs.error();
    std::vector<storage::ProvisionOp> ops;
    ops.reserve(plan.changes.size());
    for (const auto& change : plan.changes) ops.push_back(change.op);
    if (Status s = (*store)->apply_provisioning(ops); !s) {
      for (auto it = maildirs->rbegin(); it != maildirs->rend(); ++it) it->undo();
      return Error{s.error().code, s.error().message + "; nothing was changed"};
    }
    if (Status s = purge_after(ctx, plan); !s) return s;
  }

  const std::size_t n = plan.changes.size();
  if (ctx.json) {
    json changes = json::array();
    for (const auto& change : plan.changes) changes.push_back(change.json);
    print_json({{"ok", true}, {"dry_run", a.dry_run}, {"prune", a.prune}, {"changes", std::move(changes)}});
    return {};
  }
  std::string out;
  for (const auto& change : plan.changes) out += escape_control(change.text) + "\n";
  std::cout << out;
  if (n == 0) {
    print_line("no changes");
  } else {
    const std::string count = std::to_string(n) + (n == 1 ? " change" : " changes");
    print_line(a.dry_run ? "dry run: " + count + ", nothing was written" : "applied " + count);
  }
  return {};
}

}  // namespace

void add_provision_commands(CLI::App& app, Context& ctx) {
  CLI::App* exp = app.add_subcommand(
      "export",
      "Print postoffices and mailboxes (hashes, account settings), services and access rules as JSON (for apply)");
  exp->callback([&ctx] { ctx.action = [&ctx] { return run_export(ctx); }; });

  auto args = std::make_shared<ApplyArgs>();
  CLI::App* apply = app.add_subcommand(
      "apply", "Make the database match a provisioning file, in one transaction; prints the changes");
  apply->add_option("FILE", args->file, "The JSON file ('-' for stdin), as 'mailctl export' writes it")->required();
  apply->add_flag("--dry-run", args->dry_run, "Print the changes, write nothing");
  apply->add_flag("--prune", args->prune,
                  "Also remove what the file's sections do not list (mailbox records: their Maildirs stay)");
  apply->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_apply(ctx, *args); }; });
}

}  // namespace mailroom::cli
