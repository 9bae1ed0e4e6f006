// A new mailbox's Maildir, made before its record is stored (mailbox add, apply): cur/ new/ tmp/
// created where missing; undo() removes only what this made, and only where still empty.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/base/result.h"
#include "storage/mail_store.h"

namespace mailroom::cli {

class MaildirSetup {
 public:
  // Creates `maildir` (and the folders above it, up to `mail_root`) with `mail`. kIo etc. on
  // failure, with nothing left behind.
  static Result<MaildirSetup> create(storage::MailStore& mail, const std::filesystem::path& maildir,
                                     const std::filesystem::path& mail_root);
  // Many at once (apply): one sync of the file system at the end (MailStore::create_maildirs).
  // On failure every folder made is undone.
  static Result<std::vector<MaildirSetup>> create_all(storage::MailStore& mail,
                                                      const std::vector<std::string>& maildirs,
                                                      const std::filesystem::path& mail_root);
  // The Maildir existed already (its folders were at most completed).
  bool reused() const { return created_.empty(); }
  // Removes the folders create() made, where empty: mail that arrived meanwhile is never deleted.
  void undo() const;

 private:
  MaildirSetup(std::filesystem::path maildir, std::vector<std::filesystem::path> created)
      : maildir_(std::move(maildir)), created_(std::move(created)) {}
  std::filesystem::path maildir_;
  std::vector<std::filesystem::path> created_;  // deepest first
};

}  // namespace mailroom::cli
