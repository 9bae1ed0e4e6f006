// The start-up sweep of the mailboxes' tmp/ folders.
#include "daemon/tmp_cleanup.h"

#include <memory>
#include <optional>
#include <string>

#include "core/log/logger.h"

namespace mailroom::daemon {

void clean_delivery_leftovers(core::WorkQueue& work, storage::AccountStore& accounts, storage::MailStore& mail) {
  struct Sweep {
    std::size_t mailboxes = 0, removed = 0, errors = 0;
    std::string error;  // the first
  };
  auto sweep = std::make_shared<Sweep>();
  work.submit(
      [sweep, &accounts, &mail] {
        auto mailboxes = accounts.list_mailboxes(std::nullopt);
        if (!mailboxes) {
          ++sweep->errors;
          sweep->error = mailboxes.error().message;
          return;
        }
        for (const auto& m : *mailboxes) {
          ++sweep->mailboxes;
          auto removed = mail.remove_stale_tmp(m.maildir, kStaleTmpAge);
          if (removed) {
            sweep->removed += *removed;
          } else if (removed.error().code != ErrorCode::kNotFound) {
            // A Maildir not created yet is no error; anything else is worth a line.
            if (sweep->errors++ == 0) sweep->error = removed.error().message;
          }
        }
      },
      [sweep] {
        const std::string mailboxes = std::to_string(sweep->mailboxes), removed = std::to_string(sweep->removed);
        if (sweep->errors > 0) {
          log::warn("maildir.tmp_cleanup", {{"mailboxes", mailboxes}, {"removed", removed},
                                            {"errors", std::to_string(sweep->errors)}, {"first_error", sweep->error}});
        } else if (sweep->removed > 0) {
          log::info("maildir.tmp_cleanup", {{"mailboxes", mailboxes}, {"removed", removed}});
        } else {
          log::debug("maildir.tmp_cleanup", {{"mailboxes", mailboxes}, {"removed", removed}});
        }
      });
}

}  // namespace mailroom::daemon
