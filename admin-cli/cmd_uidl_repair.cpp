// mailctl mailbox repair-uidls: the way out of a damaged .mailroom-uidls (the daemon refuses to
// open such a mailbox rather than show other UIDLs, and logs maildir.uidl_map_unreadable).
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "admin-cli/uidl_import.h"
#include "core/base/count_text.h"
#include "storage/address.h"

namespace mailroom::cli {

namespace {

struct RepairOptions {
  std::string address;
  std::string format;
  bool no_refill = false;
  CLI::Option* format_opt = nullptr;
};

std::string repaired_text(const std::string& address, const storage::UidlRepairReport& r,
                          const std::optional<UidlImportSource>& refill) {
  std::string out = "repaired the UIDL map of " + address + ": " + counted(r.kept, "UIDL", "UIDLs") + " kept, " +
                    counted(r.dropped_lines, "damaged line", "damaged lines") + " dropped, " +
                    counted(r.gone, "entry", "entries") + " of messages no longer there dropped";
  if (refill) {
    out += ", " + counted(r.refilled, "lost one", "lost ones") + " given back from " + refill->file.filename().string();
  }
  out += "; the damaged file is kept as " + r.kept_aside;
  if (!r.header_kept) out += "; its header was lost: uidl_format templates start again";
  if (r.without_entry > 0) {
    out += "; " + counted(r.without_entry, "message has", "messages have") +
           " no recorded UIDL now (leave-on-server clients may download them again)";
  }
  return out;
}

Status run_repair(const Context& ctx, const RepairOptions& o) {
  if (o.no_refill && o.format_opt->count() > 0) throw UsageError("--format and --no-refill exclude each other");
  auto address = storage::parse_address(o.address);
  if (!address) return address.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto mailbox = (*store)->get_mailbox(*address);
  if (!mailbox) return mailbox.error();
  // The list the map was most likely imported from, still in the Maildir: read before anything
  // changes (a list that cannot be read fails the repair; --no-refill goes without it).
  std::optional<UidlImportSource> refill;
  if (!o.no_refill) refill = detect_uidl_source(mailbox->maildir, o.format);
  std::optional<storage::uidl::UidlSource> entries;
  if (refill) {
    auto read = read_uidl_source(*refill);
    if (!read) return Error{read.error().code, read.error().message + " (repair without it: --no-refill)"};
    entries = std::move(read).value();
  }
  auto mail = storage::make_maildir_store();
  auto report = mail->repair_uidls(mailbox->maildir, entries ? &*entries : nullptr);
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
  extra["refill_source"] = refill ? nlohmann::ordered_json(refill->file.string()) : nlohmann::ordered_json(nullptr);
  extra["refilled"] = report->refilled;
  extra["without_entry"] = report->without_entry;
  ctx.done(repaired_text(address->str(), *report, refill), extra);
  return {};
}

}  // namespace

void add_repair_uidls_command(CLI::App* group, Context& ctx) {
  auto o = std::make_shared<RepairOptions>();
  CLI::App* cmd = group->add_subcommand(
      "repair-uidls", "Repair a damaged UIDL map (the daemon refuses such a mailbox): keep the damaged file aside, "
                      "write back every UIDL that can still be read, give lost ones back from the Maildir's "
                      "dovecot-uidlist or courierpop3dsizelist");
  cmd->add_option("ADDRESS", o->address, "mailbox@postoffice")->required();
  o->format_opt = cmd->add_option("--format", o->format,
                                  "The old Dovecot's pop3_uidl_format for the refill from dovecot-uidlist "
                                  "(default %08Xu%08Xv)")
                      ->type_name("TEMPLATE");
  cmd->add_flag("--no-refill", o->no_refill, "Do not read the Maildir's dovecot-uidlist or courierpop3dsizelist");
  cmd->callback([&ctx, o] { ctx.action = [&ctx, o] { return run_repair(ctx, *o); }; });
}

}  // namespace mailroom::cli
