// mailctl mailbox repair-uidls: the way out of a damaged .mailroom-uidls (the daemon refuses to
// open such a mailbox rather than show other UIDLs, and logs maildir.uidl_map_unreadable).
#include <memory>
#include <string>

#include "admin-cli/uidl_import.h"
#include "storage/address.h"

namespace mailroom::cli {

namespace {

std::string repaired_text(const std::string& address, const storage::UidlRepairReport& r) {
  std::string out = "repaired the UIDL map of " + address + ": " + std::to_string(r.kept) + " UIDLs kept, " +
                    std::to_string(r.dropped_lines) + " damaged lines dropped, " + std::to_string(r.gone) +
                    " of messages no longer there dropped; the damaged file is kept as " + r.kept_aside;
  if (!r.header_kept) out += "; its header was lost: a new uidvalidity is used for template UIDLs";
  if (r.without_entry > 0) {
    out += "; " + std::to_string(r.without_entry) +
           " messages have no recorded UIDL now (leave-on-server clients may download them again; if the old "
           "server's list is still there, run 'mailctl mailbox import-uidls' again)";
  }
  return out;
}

Status run_repair(const Context& ctx, const std::string& raw) {
  auto address = storage::parse_address(raw);
  if (!address) return address.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto mailbox = (*store)->get_mailbox(*address);
  if (!mailbox) return mailbox.error();
  auto mail = storage::make_maildir_store();
  auto report = mail->repair_uidls(mailbox->maildir);
  if (!report) return report.error();
  using State = storage::UidlRepairReport::State;
  const char* state = report->state == State::kAbsent ? "absent" : report->state == State::kIntact ? "intact" : "repaired";
  nlohmann::ordered_json extra = {{"changed", report->state == State::kRepaired},
                                  {"address", address->str()},
                                  {"state", state}};
  if (report->state != State::kRepaired) {
    ctx.done("the UIDL map of " + address->str() +
                 (report->state == State::kAbsent ? " does not exist (native UIDLs only)" : " is intact") +
                 ": nothing to repair",
             extra);
    return {};
  }
  extra["kept_aside"] = report->kept_aside;
  extra["header_kept"] = report->header_kept;
  extra["kept"] = report->kept;
  extra["dropped_lines"] = report->dropped_lines;
  extra["gone"] = report->gone;
  extra["without_entry"] = report->without_entry;
  ctx.done(repaired_text(address->str(), *report), extra);
  return {};
}

}  // namespace

void add_repair_uidls_command(CLI::App* group, Context& ctx) {
  auto address = std::make_shared<std::string>();
  CLI::App* cmd = group->add_subcommand(
      "repair-uidls", "Repair a damaged UIDL map (the daemon refuses such a mailbox): keep the damaged file aside "
                      "and write back every UIDL that can still be read");
  cmd->add_option("ADDRESS", *address, "mailbox@postoffice")->required();
  cmd->callback([&ctx, address] { ctx.action = [&ctx, address] { return run_repair(ctx, *address); }; });
}

}  // namespace mailroom::cli
