// The passwords of an apply, decided on every core before the diff: an imported hash is compared
// with the stored one; a plaintext password is verified against the stored hash (unchanged when
// it matches) and otherwise hashed with the default scheme, its derived secrets built too.
#pragma once

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "admin-cli/provision/provision_diff.h"

namespace mailroom::cli::provision {

struct PasswordJob {
  const DesiredState* desired = nullptr;
  const storage::ProvisioningSnapshot* current = nullptr;
  std::set<std::string> secret_kinds;  // what the services after the apply need
  bool dry_run = false;                // verify only: nothing is hashed or derived
  unsigned threads = 1;                // at least 1
  // Called on the calling thread about ten times a second while workers run: (done, total).
  std::function<void(std::size_t, std::size_t)> progress;
};

// One ResolvedPassword per desired mailbox (parallel to desired->mailboxes); an error (hashing
// failed) names the mailbox's path.
Result<std::vector<ResolvedPassword>> resolve_passwords(const PasswordJob& job);

}  // namespace mailroom::cli::provision
