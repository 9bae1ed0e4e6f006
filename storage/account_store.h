// AccountStore: postoffices, mailboxes, credentials and service settings (SQLite or PostgreSQL:
// storage/store_factory.h).
// Thread-safe: every method may be called from any worker thread; none may run on the loop. On
// SQLite one connection serves the calls in turn; on PostgreSQL a pool of connections in parallel.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "storage/address.h"

namespace mailroom::storage {

struct PostofficeInfo {
  std::string name;
  bool enabled = true;
  int64_t mailbox_count = 0;
  int64_t created_at = 0;  // unix seconds
  // Its account settings (config::account_settings_catalog()): stored canonical values only.
  std::map<std::string, std::string> settings;
};

// A secret derived from a mailbox's password for a mechanism that cannot use the slow hash
// (SCRAM keys, CRAM-MD5 contexts, the NTLM NT hash, APOP's plaintext). `kind` is a name the
// protocol module chose ("scram-sha-256", "cram-md5", ...); the store treats it as opaque.
// Plaintext equivalents are encrypted at rest (AES-256-GCM, key in DATA/secrets.key) and
// decrypted only by get_secret().
struct StoredSecret {
  std::string kind;
  std::string value;
  bool plaintext_equivalent = false;
  bool operator==(const StoredSecret&) const = default;
};

struct MailboxInfo {
  int64_t id = 0;
  Address address;
  bool enabled = true;             // the mailbox's own flag
  bool postoffice_enabled = true;  // its postoffice's flag
  std::string maildir;             // absolute path of the Maildir (holds cur/ new/ tmp/)
  std::string password_scheme;     // e.g. "argon2id", "sha512-crypt" (never the secret)
  int64_t created_at = 0;
  std::vector<std::string> secret_kinds;  // kinds of StoredSecret it has, sorted (never the values)
  // Account settings (config::account_settings_catalog()), stored canonical values only: the
  // mailbox's own, and its postoffice's. account_setting() resolves one.
  std::map<std::string, std::string> settings;
  std::map<std::string, std::string> postoffice_settings;
};

// The effective value of an account setting for this mailbox: its own, else its postoffice's,
// else nullopt (the caller falls back to the service setting or the built-in default).
std::optional<std::string> account_setting(const MailboxInfo& mailbox, std::string_view key);

struct ServiceRecord {
  std::string name;    // e.g. "pop3"
  std::string module;  // e.g. "pop3"
  bool enabled = true;
  std::map<std::string, std::string> settings;  // only the stored (non-default) values
};

// What the caller of remove_mailbox() does with the Maildir; the store never deletes files.
enum class MaildirAfterRemove { kKeep, kDelete };

enum class PasswordKind {
  kPlaintext,  // hash it with the default scheme (argon2id)
  kHash,       // an imported hash: "{SHA512-CRYPT}$6$...", "$6$...", "$argon2id$..."
};

class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // ---- provisioning (mailctl) ----
  virtual Status add_postoffice(const std::string& name) = 0;
  // Fails with kInvalidArgument if it still has mailboxes and !force. With force, its mailboxes'
  // records go too (their Maildirs are left on disk; the caller decides).
  virtual Status remove_postoffice(const std::string& name, bool force) = 0;
  virtual Result<std::vector<PostofficeInfo>> list_postoffices() = 0;
  virtual Result<PostofficeInfo> get_postoffice(const std::string& name) = 0;
  // A disabled postoffice refuses every login to its mailboxes (their mail is kept).
  virtual Status set_postoffice_enabled(const std::string& name, bool enabled) = 0;
  // Stores an already validated canonical account setting (config::account_settings_catalog());
  // an empty optional removes it. kNotFound for an unknown postoffice.
  virtual Status set_postoffice_setting(const std::string& name, const std::string& key,
                                        const std::optional<std::string>& value) = 0;

  // Whether `maildir` may become the Maildir of `address` (read-only; add_mailbox checks the same
  // again in its transaction). A Maildir belongs to one mailbox, or purging one would delete
  // another's mail. Paths are compared as the kernel resolves them (symlinks, "..", "//"):
  // - kInUse, naming the other mailbox, when it is the same directory as another mailbox's
  //   Maildir, lies inside one, or contains one;
  // - kInvalidArgument when it contains the data directory, or lies inside DATA/mail (or the
  //   configured mail_root, storage/mail_root.h) anywhere but the default Maildir of `address`
  //   itself there (the rest of that tree is other addresses' place).
  virtual Status check_maildir(const Address& address, const std::string& maildir) = 0;
  // Creates the record; `maildir` is the absolute path to use. Errors: unknown postoffice
  // (kNotFound), duplicate (kAlreadyExists), bad password/hash (kInvalidArgument), a Maildir
  // check_maildir() refuses. `secrets` are stored with it (derived by the caller from a plaintext
  // password; empty for an imported hash).
  virtual Result<MailboxInfo> add_mailbox(const Address& address, const std::string& password,
                                          PasswordKind kind, const std::string& maildir,
                                          const std::vector<StoredSecret>& secrets = {}) = 0;
  // Removes the record and returns it as it was. kDelete: the caller is about to delete the
  // Maildir, so the removal is refused (kInUse, naming the other mailbox; nothing removed) while
  // that directory is, contains or lies inside the Maildir of any other mailbox (a database from
  // before check_maildir(), or edited by hand, can have that), or contains the data directory.
  virtual Result<MailboxInfo> remove_mailbox(const Address& address,
                                             MaildirAfterRemove after = MaildirAfterRemove::kKeep) = 0;
  // Replaces the password and ALL derived secrets with `secrets` (a new password makes the old
  // ones wrong; an imported hash comes with none).
  virtual Status set_password(const Address& address, const std::string& password,
                              PasswordKind kind, const std::vector<StoredSecret>& secrets = {}) = 0;
  virtual Status set_mailbox_enabled(const Address& address, bool enabled) = 0;
  // The same as set_postoffice_setting() for one mailbox. kNotFound for an unknown mailbox.
  virtual Status set_mailbox_setting(const Address& address, const std::string& key,
                                     const std::optional<std::string>& value) = 0;
  virtual Result<MailboxInfo> get_mailbox(const Address& address) = 0;
  // All mailboxes, or those of one postoffice (kNotFound if it does not exist).
  virtual Result<std::vector<MailboxInfo>> list_mailboxes(const std::optional<std::string>& postoffice) = 0;

  // ---- login (daemon, on a worker thread) ----
  // Looks the mailbox up and verifies the password (slow hash). kAuthFailed for unknown
  // mailbox, wrong password, disabled mailbox or postoffice: the message says which for logs,
  // callers must not tell the client which.
  virtual Result<MailboxInfo> verify_password(const Address& address, const std::string& password) = 0;
  // After a successful password login (rehash_on_login): if the stored hash is not the default
  // scheme (argon2id), checks `password` against it once more and stores argon2id of it instead.
  // The derived secrets are kept (the password is the same). Compare-and-swap on the old hash:
  // the row changes only if it still holds the hash just verified, so a password changed
  // meanwhile wins. Returns the scheme replaced, or "" when nothing changed (already the default,
  // the password no longer matches, the hash changed meanwhile). kNotFound for an unknown mailbox.
  // Slow (two hashes): off the loop.
  virtual Result<std::string> upgrade_password_hash(const Address& address, const std::string& password) = 0;
  // Adds or replaces these secrets, keeping the others (filling in after a successful login with
  // the password, when a mechanism was enabled later). kNotFound for an unknown mailbox.
  virtual Status put_secrets(const Address& address, const std::vector<StoredSecret>& secrets) = 0;
  // The secret of `kind`, decrypted. nullopt when the mailbox has none of that kind.
  // kAuthFailed (message for logs) for an unknown or disabled mailbox or postoffice, as
  // verify_password does; kInternal if a stored value cannot be decrypted (wrong key file).
  virtual Result<std::optional<std::string>> get_secret(const Address& address, const std::string& kind) = 0;
  // Deletes the secrets of these kinds from every mailbox (a mechanism was disabled); returns
  // how many were deleted.
  virtual Result<int64_t> purge_secrets(const std::vector<std::string>& kinds) = 0;

  // ---- services ----
  virtual Result<std::vector<ServiceRecord>> list_services() = 0;
  virtual Result<ServiceRecord> get_service(const std::string& name) = 0;
  // Creates the service row if missing (used by init).
  virtual Status ensure_service(const std::string& name, const std::string& module, bool enabled) = 0;
  virtual Status set_service_enabled(const std::string& name, bool enabled) = 0;
  // Stores an already validated canonical value; an empty optional removes it (back to default).
  virtual Status set_service_setting(const std::string& name, const std::string& key,
                                     const std::optional<std::string>& value) = 0;

  // ---- daemon-wide settings (config::daemon_settings_catalog()) ----
  // The stored values by key (keys left at their default are absent).
  virtual Result<std::map<std::string, std::string>> daemon_settings() = 0;
  // Stores an already validated canonical value; an empty optional removes it (back to default).
  virtual Status set_daemon_setting(const std::string& key, const std::optional<std::string>& value) = 0;

  // Changes whenever another connection committed (PRAGMA data_version): the daemon polls it.
  virtual Result<int64_t> data_version() = 0;
};

// DATA_DIR/mail: the tree under which mailboxes get their Maildir unless given another one.
std::string mail_root(const std::string& data_dir);
// DATA_DIR/mail/<postoffice>/<mailbox>/Maildir: the Maildir a mailbox gets by default.
std::string default_maildir(const std::string& data_dir, const Address& address);

// Opened by storage/store_factory.h.

}  // namespace mailroom::storage
