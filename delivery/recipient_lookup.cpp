// Recipient lookup against the AccountStore (on a worker).
#include "delivery/recipient_lookup.h"

#include "storage/account_store.h"
#include "storage/address.h"

namespace mailroom::delivery {

RecipientVerdict look_up_recipient(storage::AccountStore& accounts, std::string_view local, std::string_view domain) {
  auto postoffice_name = storage::normalize_postoffice_name(std::string(domain));
  if (!postoffice_name) return {RecipientStatus::kForeignDomain, {}, {}, {}, {}};  // an address literal, or junk
  auto postoffice = accounts.get_postoffice(*postoffice_name);
  if (!postoffice) {
    if (postoffice.error().code == ErrorCode::kNotFound) return {RecipientStatus::kForeignDomain, {}, {}, {}, {}};
    return {RecipientStatus::kTemporary, {}, {}, {}, {}};
  }
  auto mailbox_name = storage::normalize_mailbox_name(std::string(local));
  if (!mailbox_name) return {RecipientStatus::kUnknownMailbox, {}, {}, {}, {}};
  storage::Address address{*mailbox_name, *postoffice_name};
  auto mailbox = accounts.get_mailbox(address);
  if (!mailbox) {
    if (mailbox.error().code == ErrorCode::kNotFound) return {RecipientStatus::kUnknownMailbox, {}, {}, {}, {}};
    return {RecipientStatus::kTemporary, {}, {}, {}, {}};
  }
  if (!mailbox->enabled || !mailbox->postoffice_enabled) return {RecipientStatus::kDisabled, {}, {}, {}, {}};
  return {RecipientStatus::kOk, mailbox->maildir, address.str(), storage::mailbox_quota(*mailbox), {}};
}

}  // namespace mailroom::delivery
