// The Maildir implementation of MailStore (created by make_maildir_store() in mail_store.h).
// Files it keeps next to cur/ new/ tmp/, named here so tests and tools agree on them.
#pragma once

#include <chrono>
#include <memory>

#include "core/base/result.h"
#include "storage/maildir/maildir_index.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::storage {
class MailStore;
}

namespace mailroom::storage::maildir {

// Durable list of files to delete (one "new/NAME" or "cur/NAME" per line); its presence means
// a deletion was promised and must be completed, by the next open() if we crashed.
inline constexpr const char* kDeleteIntentFile = ".mailroom-delete";
inline constexpr const char* kDeleteIntentTmpFile = ".mailroom-delete.tmp";
// flock()ed only while deletions are committed (intent file, unlinks), so two processes that
// share a maildir can never interleave their intents. Sessions themselves hold a maildrop in
// the daemon's memory (no descriptor).
inline constexpr const char* kUpdateLockFile = ".mailroom-lock";
// Durable UIDL assignments (uidl_map.h), replaced under the update lock.
inline constexpr const char* kUidlMapFile = ".mailroom-uidls";
inline constexpr const char* kUidlMapTmpFile = ".mailroom-uidls.tmp";
// The listing cache (kIndexFile, kIndexTmpFile) is described in maildir_index.h.

struct StoreOptions {
  // Keep DIR/.mailroom-index and open an unchanged Maildir from it.
  bool use_index = true;
  // A listing is saved only if cur/ and new/ were last changed at least this long before the
  // scan started: on a file system with 1-second timestamps a change in the same second would
  // otherwise leave the stamps as the index recorded them. Tests use 0 (ext4 and tmpfs stamp in
  // nanoseconds).
  std::chrono::nanoseconds index_settle_time = std::chrono::seconds(1);
};

// Takes DIR's update lock (a blocking flock() of kUpdateLockFile: call it on a worker), held as
// long as the returned descriptor: deletions and UIDL map changes happen under it.
Result<UniqueFd> lock_for_update(const std::string& dir);

// make_maildir_store() with explicit options.
std::unique_ptr<MailStore> make_store(const StoreOptions& options);

}  // namespace mailroom::storage::maildir
