// Maildir listing (internal to storage/maildir): what open() lists, from the listing cache
// DIR/.mailroom-index (maildir_index.h) when cur/ and new/ still carry the stamps it recorded,
// else from a scan of new/ and cur/ (delivery order, wire sizes, unique uids), then cached.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "storage/mail_store.h"
#include "storage/maildir/maildir_store.h"

namespace mailroom::storage::maildir {

// The messages of DIR (absolute, no trailing '/') in delivery order; a path each starts with
// join(DIR, "") followed by "new/NAME" or "cur/NAME". An entry that cannot be read is left out
// and logged once; the rest of the mailbox is listed, and *complete (if given) says so. The uids
// are the native ones (uidl_assign.h applies the UIDL map).
Result<std::vector<MessageInfo>> list_maildir(const std::string& dir, const StoreOptions& options,
                                              bool* complete = nullptr);

// The stamps of DIR/new and DIR/cur (lstat: nullopt if either is missing or no directory). A
// listing taken after reading them is current while they are unchanged (see stamp_settled).
struct FolderStamps {
  DirStamp new_dir;
  DirStamp cur_dir;
  bool operator==(const FolderStamps&) const = default;
};
std::optional<FolderStamps> read_folder_stamps(const std::string& dir);

}  // namespace mailroom::storage::maildir
