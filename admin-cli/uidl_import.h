// mailctl's UIDL imports: `mailbox import-uidls` and the automatic import of `mailbox add
// --maildir` (a Maildir a Dovecot or Courier server leaves behind carries the UIDLs its clients
// saw; importing them spares every leave-on-server client downloading the whole mailbox again).
#pragma once

#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "admin-cli/output.h"
#include "storage/mail_store.h"
#include "storage/uidl/uidl_sources.h"

namespace mailroom::cli {

// Where the UIDLs come from.
struct UidlImportSource {
  enum class Kind { kPlain, kDovecot, kCourier };
  Kind kind = Kind::kPlain;
  std::filesystem::path file;  // the list itself
  std::string format;          // kDovecot: the old server's pop3_uidl_format ("" = %08Xu%08Xv)
};

// DIR/dovecot-uidlist, else DIR/courierpop3dsizelist, if either exists.
std::optional<UidlImportSource> detect_uidl_source(const std::filesystem::path& maildir, const std::string& format);

// Reads and parses the source (at most uidl::kMaxSourceSize octets); errors name the file.
Result<storage::uidl::UidlSource> read_uidl_source(const UidlImportSource& source);
// Reads the source and imports it into MAILDIR.
Result<storage::UidlImportReport> import_uidl_source(storage::MailStore& mail, const std::string& maildir,
                                                     const UidlImportSource& source);

std::size_t skipped_count(const storage::UidlImportReport& report);
// {"no_such_message": N, "duplicate": N, "invalid": N}
nlohmann::ordered_json skipped_reasons_json(const storage::UidlImportReport& report);
// "3 skipped: 2 no such message, 1 duplicate" (or "none skipped").
std::string skipped_text(const storage::UidlImportReport& report);

// `mailbox import-uidls ADDRESS FILE | --from-dovecot MAILDIR [--format T] | --from-courier MAILDIR`.
void add_import_uidls_command(CLI::App* mailbox_group, Context& ctx);
// `mailbox repair-uidls ADDRESS [--format T | --no-refill]`: a damaged UIDL map kept aside, what
// can be read written back, lost entries refilled from the Maildir's dovecot-uidlist or
// courierpop3dsizelist (cmd_uidl_repair.cpp).
void add_repair_uidls_command(CLI::App* mailbox_group, Context& ctx);

}  // namespace mailroom::cli
