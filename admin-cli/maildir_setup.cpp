// MaildirSetup: creating a new mailbox's Maildir, and undoing that when its record fails.
#include "admin-cli/maildir_setup.h"

namespace mailroom::cli {

namespace fs = std::filesystem;

namespace {

// Directories from `leaf` up to (not including) `root` that do not exist yet, deepest first.
std::vector<fs::path> missing_dirs(const fs::path& leaf, const fs::path& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::path p = leaf; p != root && p.has_relative_path() && !fs::exists(p, ec); p = p.parent_path()) {
    out.push_back(p);
  }
  return out;
}

}  // namespace

Result<MaildirSetup> MaildirSetup::create(storage::MailStore& mail, const fs::path& maildir, const fs::path& mail_root) {
  MaildirSetup setup(maildir, missing_dirs(maildir, mail_root));
  // Also adds tmp/ to an imported Maildir that lacks it (deliveries need it).
  if (Status s = mail.create_maildir(maildir.string()); !s) {
    setup.undo();
    return s.error();
  }
  return setup;
}

Result<std::vector<MaildirSetup>> MaildirSetup::create_all(storage::MailStore& mail,
                                                           const std::vector<std::string>& maildirs,
                                                           const fs::path& mail_root) {
  std::vector<MaildirSetup> setups;
  setups.reserve(maildirs.size());
  // Noted before anything is made: a later Maildir's missing folders may be made by an earlier's.
  for (const auto& dir : maildirs) setups.push_back(MaildirSetup(dir, missing_dirs(dir, mail_root)));
  if (Status s = mail.create_maildirs(maildirs); !s) {
    for (auto it = setups.rbegin(); it != setups.rend(); ++it) it->undo();
    return s.error();
  }
  return setups;
}

void MaildirSetup::undo() const {
  std::error_code ec;
  if (created_.empty() || created_.front() != maildir_) return;
  for (const char* sub : {"tmp", "new", "cur"}) fs::remove(maildir_ / sub, ec);
  for (const auto& dir : created_) {
    if (!fs::remove(dir, ec) || ec) return;
  }
}

}  // namespace mailroom::cli
