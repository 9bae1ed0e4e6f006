// Declarative provisioning (mailctl export / apply): what the database configures, as one
// snapshot, and the writes that make it match a file, applied in one transaction.
// Derived secrets are not part of the snapshot: they are rebuilt from passwords.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "storage/account_store.h"
#include "storage/address.h"

namespace mailroom::storage {

struct ProvisionedPostoffice {
  std::string name;
  bool enabled = true;
  std::map<std::string, std::string> settings;  // account settings, stored canonical values
  bool operator==(const ProvisionedPostoffice&) const = default;
};

struct ProvisionedMailbox {
  Address address;
  bool enabled = true;
  std::string password_hash;  // the stored form ("$argon2id$...", "$6$...")
  std::string maildir;        // absolute
  std::map<std::string, std::string> settings;  // account settings, stored canonical values
  bool operator==(const ProvisionedMailbox&) const = default;
};

struct ProvisionedRule {
  std::string service;
  std::string list;  // allow, deny, safe
  std::string rule;  // canonical
  std::string comment;
  bool operator==(const ProvisionedRule&) const = default;
};

struct ProvisioningSnapshot {
  std::vector<ProvisionedPostoffice> postoffices;  // by name
  std::vector<ProvisionedMailbox> mailboxes;       // by postoffice, then mailbox
  std::vector<ServiceRecord> services;             // by name, stored settings only
  std::vector<ProvisionedRule> rules;              // by service, list, id
  // Stored daemon-wide settings (config::daemon_settings_catalog()), by key; encrypted (secret)
  // ones are left out, never decrypted here.
  std::map<std::string, std::string> daemon_settings;
};

// The writes of an apply. Names and values arrive checked (the file validator) and are checked
// again by the store where the database decides (duplicates, unknown names, Maildir overlap).
namespace provision_op {
struct AddPostoffice {
  std::string name;
  bool enabled = true;
};
struct SetPostofficeEnabled {
  std::string name;
  bool enabled = true;
};
struct RemovePostoffice {  // its mailboxes' records go too (Maildirs stay on disk)
  std::string name;
};
struct AddMailbox {
  Address address;
  bool enabled = true;
  std::string password_hash;  // a form parse_imported_hash() accepts
  std::string maildir;        // absolute
  std::vector<StoredSecret> secrets;
};
struct SetPassword {  // replaces the hash and ALL derived secrets
  Address address;
  std::string password_hash;
  std::vector<StoredSecret> secrets;
};
struct SetMailboxEnabled {
  Address address;
  bool enabled = true;
};
struct RemoveMailbox {  // the record only; the Maildir stays
  Address address;
};
struct AddService {
  std::string name;
  std::string module;
  bool enabled = true;
};
struct SetServiceEnabled {
  std::string name;
  bool enabled = true;
};
struct RemoveService {  // its settings, rules and blocks go too
  std::string name;
};
struct SetSetting {  // an already canonical value; nullopt removes it (back to the default)
  std::string service;
  std::string key;
  std::optional<std::string> value;
};
// Account settings (config::account_settings_catalog()): an already canonical value; nullopt
// removes it (the postoffice's value, else the service setting or default, applies again).
struct SetPostofficeSetting {
  std::string postoffice;
  std::string key;
  std::optional<std::string> value;
};
struct SetMailboxSetting {
  Address address;
  std::string key;
  std::optional<std::string> value;
};
// A daemon-wide setting (config::daemon_settings_catalog()), never a secret one: an already
// canonical value; nullopt removes it (back to the default).
struct SetDaemonSetting {
  std::string key;
  std::optional<std::string> value;
};
struct AddRule {
  ProvisionedRule rule;
};
struct SetRuleComment {
  ProvisionedRule rule;
};
struct RemoveRule {
  ProvisionedRule rule;
};
}  // namespace provision_op

using ProvisionOp =
    std::variant<provision_op::AddPostoffice, provision_op::SetPostofficeEnabled, provision_op::RemovePostoffice,
                 provision_op::AddMailbox, provision_op::SetPassword, provision_op::SetMailboxEnabled,
                 provision_op::RemoveMailbox, provision_op::AddService, provision_op::SetServiceEnabled,
                 provision_op::RemoveService, provision_op::SetSetting, provision_op::SetPostofficeSetting,
                 provision_op::SetMailboxSetting, provision_op::SetDaemonSetting, provision_op::AddRule, provision_op::SetRuleComment,
                 provision_op::RemoveRule>;

// Thread-safe like AccountStore; blocking (call it off any event loop).
class ProvisioningStore {
 public:
  virtual ~ProvisioningStore() = default;
  // Everything export shows, read in one transaction (a consistent picture).
  virtual Result<ProvisioningSnapshot> provisioning_snapshot() = 0;
  // Every op, in order, in ONE transaction: all of them or none. An op the database refuses (a
  // mailbox that appeared meanwhile, an unknown postoffice, a Maildir another mailbox uses)
  // rolls everything back and is named in the error. Rule changes bump the policy generation.
  virtual Status apply_provisioning(const std::vector<ProvisionOp>& ops) = 0;
};

// Opened by storage/store_factory.h.

}  // namespace mailroom::storage
