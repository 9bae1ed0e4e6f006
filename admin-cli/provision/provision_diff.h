// What an apply changes: the desired state (provision_file.h) against a database snapshot, as
// the lines mailctl prints ("+ mailbox a@b", "~ service pop3 port 110 -> 1110", "- mailbox ...")
// and the store writes (storage/provisioning.h), in an order the database accepts. Pure.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "admin-cli/provision/provision_file.h"
#include "storage/account_store.h"
#include "storage/provisioning.h"

namespace mailroom::cli::provision {

// The password a desired mailbox ends up with, decided before the diff (hashing plaintext is
// slow and runs on every core): `changed` when it differs from the stored one (always for a new
// mailbox). `hash` is what to store ("" in a dry run, where plaintext is only verified);
// `secrets` the derived secrets of a plaintext password, none for an imported hash.
struct ResolvedPassword {
  std::string hash;
  std::vector<storage::StoredSecret> secrets;
  bool changed = true;
};

struct Change {
  std::string text;            // one line, no password or hash in it
  nlohmann::ordered_json json;  // {"action": "add"|"change"|"remove", "object": ..., ...}
  storage::ProvisionOp op;
};

struct Plan {
  std::vector<Change> changes;    // empty: "no changes"
  std::vector<Problem> problems;  // not empty: refuse the file, write nothing
};

// `passwords` runs parallel to desired.mailboxes. Without `prune` nothing absent from the file
// is removed; with it, only sections the file has are pruned (removing a postoffice or a
// service lists the mailboxes or rules that go with it). A mailbox the file gives no maildir gets
// one under `mail_root` (storage/mail_root.h).
Plan plan_changes(const storage::ProvisioningSnapshot& current, const DesiredState& desired,
                  const std::vector<ResolvedPassword>& passwords, const std::string& mail_root, bool prune);

}  // namespace mailroom::cli::provision
