// Deletion intent (internal to storage/maildir): crash-safe deletion of messages. Under the
// maildir's update lock (kUpdateLockFile) the list of files to delete is made durable
// (kDeleteIntentFile) before the first unlink, so a deletion a crash interrupted is finished by the
// next open; the names are in maildir_store.h.
#pragma once

#include <string>

#include "core/base/result.h"

namespace mailroom::storage::maildir {

// Deletes the messages of DIR listed in `list` ("new/NAME" or "cur/NAME", one a line), wherever
// another client moved them since: writes the intent durably, then carries it out. Blocking
// (flock, fsync): call it on a worker.
Status delete_with_intent(const std::string& dir, const std::string& list);

// Deals with what an interrupted deletion left in DIR (a stat each when nothing is left): a
// durable intent is carried out; a temp file that never became the intent promised nothing and
// is only removed.
Status finish_interrupted_deletion(const std::string& dir);

}  // namespace mailroom::storage::maildir
