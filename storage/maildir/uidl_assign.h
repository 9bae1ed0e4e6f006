// UIDLs beyond the native ones (internal to storage/maildir): applying DIR's UIDL map
// (uidl_map.h) to a listing at open, giving new messages UIDLs from a `uidl_format` template,
// and importing another server's UIDLs. The listing cache (.mailroom-index) holds native UIDLs
// only: the map is applied after it on every open, so the cache can never show a UIDL the map
// has since changed.
#pragma once

#include <string>
#include <vector>

#include "storage/mail_store.h"
#include "storage/maildir/maildir_store.h"
#include "storage/uidl/uidl_sources.h"
#include "storage/uidl/uidl_template.h"

namespace mailroom::storage::maildir {

// Sets messages[i].uid from DIR's map. With `format`, messages that have no entry get one: the
// first time (the map has not started templates) the native UIDL they showed is recorded; after
// that the template's next uid. New entries are written under the update lock before return;
// with `complete` (every message of DIR is listed), entries of messages that are gone are
// dropped then. UIDLs stay unique in the listing. A damaged map fails the open (logged, naming
// `mailctl mailbox repair-uidls`), and is kept as it is: serving native UIDLs instead would make
// leave-on-server clients download everything again.
Status apply_uidls(const std::string& dir, std::vector<MessageInfo>& messages, bool complete,
                   const uidl::UidlTemplate* format);

// Records `source`'s UIDLs for DIR's messages (see MailStore::import_uidls).
Result<UidlImportReport> import_uidls(const std::string& dir, const uidl::UidlSource& source,
                                      const StoreOptions& options);

// Keeps DIR's damaged map aside and writes back what can be read of it (see MailStore::repair_uidls).
Result<UidlRepairReport> repair_uidls(const std::string& dir, const uidl::UidlSource* refill,
                                      const StoreOptions& options);

}  // namespace mailroom::storage::maildir
