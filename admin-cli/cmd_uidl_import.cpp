// mailctl mailbox import-uidls, and the UIDL import `mailbox add --maildir` runs by itself.
#include <memory>
#include <utility>

#include "admin-cli/uidl_import.h"
#include "storage/address.h"
#include "storage/maildir/fs_util.h"
#include "storage/uidl/uidl_sources.h"
#include "storage/uidl/uidl_template.h"

namespace mailroom::cli {

namespace fs = std::filesystem;

std::optional<UidlImportSource> detect_uidl_source(const fs::path& maildir, const std::string& format) {
  std::error_code ec;
  if (fs::is_regular_file(maildir / storage::uidl::kDovecotUidlistFile, ec)) {
    return UidlImportSource{UidlImportSource::Kind::kDovecot, maildir / storage::uidl::kDovecotUidlistFile, format};
  }
  if (fs::is_regular_file(maildir / storage::uidl::kCourierSizelistFile, ec)) {
    return UidlImportSource{UidlImportSource::Kind::kCourier, maildir / storage::uidl::kCourierSizelistFile, ""};
  }
  return std::nullopt;
}

Result<storage::uidl::UidlSource> read_uidl_source(const UidlImportSource& source) {
  auto text = storage::maildir::read_regular_file(source.file.string(), storage::uidl::kMaxSourceSize);
  if (!text) return text.error();
  Result<storage::uidl::UidlSource> parsed = make_error(ErrorCode::kInternal, "no source");
  switch (source.kind) {
    case UidlImportSource::Kind::kDovecot: {
      auto format = storage::uidl::UidlTemplate::parse(
          source.format.empty() ? storage::uidl::kDovecotDefaultFormat : std::string_view(source.format));
      if (!format) return format.error();
      parsed = storage::uidl::parse_dovecot_uidlist(*text, *format);
      break;
    }
    case UidlImportSource::Kind::kCourier:
      parsed = storage::uidl::parse_courier_sizelist(*text);
      break;
    case UidlImportSource::Kind::kPlain:
      parsed = storage::uidl::parse_plain_uidl_list(*text);
      break;
  }
  if (!parsed) return Error{parsed.error().code, source.file.string() + ": " + parsed.error().message};
  return parsed;
}

Result<storage::UidlImportReport> import_uidl_source(storage::MailStore& mail, const std::string& maildir,
                                                     const UidlImportSource& source) {
  auto parsed = read_uidl_source(source);
  if (!parsed) return parsed.error();
  return mail.import_uidls(maildir, *parsed);
}

std::size_t skipped_count(const storage::UidlImportReport& r) { return r.no_such_message + r.duplicate + r.invalid; }

nlohmann::ordered_json skipped_reasons_json(const storage::UidlImportReport& r) {
  return {{"no_such_message", r.no_such_message}, {"duplicate", r.duplicate}, {"invalid", r.invalid}};
}

std::string skipped_text(const storage::UidlImportReport& r) {
  if (skipped_count(r) == 0) return "none skipped";
  std::string out = std::to_string(skipped_count(r)) + " skipped:";
  const char* sep = " ";
  auto add = [&](std::size_t n, const char* why) {
    if (n == 0) return;
    out += sep + std::to_string(n) + " " + why;
    sep = ", ";
  };
  add(r.no_such_message, "no such message");
  add(r.duplicate, "duplicate UIDL");
  add(r.invalid, "invalid UIDL or line");
  return out;
}

namespace {

struct ImportOptions {
  std::string address;
  std::string file;
  std::string from_dovecot;
  std::string from_courier;
  std::string format;
  CLI::Option* file_opt = nullptr;
  CLI::Option* dovecot_opt = nullptr;
  CLI::Option* courier_opt = nullptr;
  CLI::Option* format_opt = nullptr;
};

Status run_import(const Context& ctx, const ImportOptions& o) {
  const int given = static_cast<int>(o.file_opt->count() > 0) + static_cast<int>(o.dovecot_opt->count() > 0) +
                    static_cast<int>(o.courier_opt->count() > 0);
  if (given != 1) throw UsageError("mailbox import-uidls needs exactly one of FILE, --from-dovecot MAILDIR or --from-courier MAILDIR");
  if (o.format_opt->count() > 0 && o.dovecot_opt->count() == 0) {
    throw UsageError("--format applies to --from-dovecot (the old server's pop3_uidl_format)");
  }
  auto address = storage::parse_address(o.address);
  if (!address) return address.error();
  UidlImportSource source;
  if (o.file_opt->count() > 0) {
    source = {UidlImportSource::Kind::kPlain, fs::absolute(o.file), ""};
  } else if (o.dovecot_opt->count() > 0) {
    source = {UidlImportSource::Kind::kDovecot, fs::absolute(o.from_dovecot) / storage::uidl::kDovecotUidlistFile, o.format};
  } else {
    source = {UidlImportSource::Kind::kCourier, fs::absolute(o.from_courier) / storage::uidl::kCourierSizelistFile, ""};
  }
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto mailbox = (*store)->get_mailbox(*address);
  if (!mailbox) return mailbox.error();
  auto mail = storage::make_maildir_store();
  auto report = import_uidl_source(*mail, mailbox->maildir, source);
  if (!report) return report.error();
  ctx.done("imported UIDLs from " + source.file.string() + " into " + address->str() + ": " +
               std::to_string(report->kept) + " kept, " + skipped_text(*report),
           {{"address", address->str()},
            {"kept", report->kept},
            {"skipped", skipped_count(*report)},
            {"skipped_reasons", skipped_reasons_json(*report)}});
  return {};
}

}  // namespace

void add_import_uidls_command(CLI::App* group, Context& ctx) {
  auto o = std::make_shared<ImportOptions>();
  CLI::App* cmd = group->add_subcommand(
      "import-uidls", "Give a mailbox's messages the UIDLs another server showed (from a list, dovecot-uidlist "
                      "or courierpop3dsizelist), so POP3 clients do not download them again");
  cmd->add_option("ADDRESS", o->address, "mailbox@postoffice")->required();
  o->file_opt = cmd->add_option("FILE", o->file, "A plain list: '<message file name> <uidl>' per line")->type_name("FILE");
  o->dovecot_opt = cmd->add_option("--from-dovecot", o->from_dovecot, "Read MAILDIR/dovecot-uidlist")->type_name("MAILDIR");
  o->format_opt = cmd->add_option("--format", o->format,
                                  "The old Dovecot's pop3_uidl_format (default %08Xu%08Xv), for messages it "
                                  "recorded no explicit UIDL for")
                      ->type_name("TEMPLATE");
  o->courier_opt = cmd->add_option("--from-courier", o->from_courier, "Read MAILDIR/courierpop3dsizelist")->type_name("MAILDIR");
  cmd->callback([&ctx, o] { ctx.action = [&ctx, o] { return run_import(ctx, *o); }; });
}

}  // namespace mailroom::cli
