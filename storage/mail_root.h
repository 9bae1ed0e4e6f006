// Where mailboxes get their Maildir by default: the daemon setting `mail_root` (cluster-wide: the
// shared file system's mount point, the same path on every node), else DATA_DIR/mail. A mailbox's
// Maildir path is stored with it, so changing mail_root moves nothing.
#pragma once

#include <string>

#include "core/base/result.h"
#include "storage/account_store.h"
#include "storage/address.h"

namespace mailroom::storage {

// `configured` (the mail_root setting) when not empty, else mail_root(data_dir) (DATA_DIR/mail).
std::string effective_mail_root(const std::string& data_dir, const std::string& configured);

// MAIL_ROOT/<postoffice>/<mailbox>/Maildir.
std::string default_maildir_under(const std::string& mail_root, const Address& address);

// effective_mail_root() with the stored daemon setting.
Result<std::string> configured_mail_root(AccountStore& store, const std::string& data_dir);

// Before a Maildir is created under a configured `mail_root`: it must be an existing directory
// (a shared file system that is not mounted must not be replaced by folders on the local disk).
// kUnavailable naming the path otherwise. DATA_DIR/mail (the default) is created when missing.
Status check_mail_root_present(const std::string& data_dir, const std::string& mail_root);

}  // namespace mailroom::storage
