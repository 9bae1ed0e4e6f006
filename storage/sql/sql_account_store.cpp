// AccountStore on the SQL layer (SQLite or PostgreSQL): one connection serialised by a mutex;
// password hashing runs outside it. (On PostgreSQL a pool of these serves parallel calls:
// storage/sql/pooled_stores.cpp.)
// The same class is the ProvisioningStore (mailctl apply): its connection writes accounts,
// services and access rules in one transaction.
// Plaintext-equivalent secrets are sealed with the SecretBox (key in DATA/secrets.key, loaded on
// first need) and bound to their mailbox row and kind.
#include <algorithm>

#include <ctime>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <system_error>

#include "storage/account_store.h"
#include "storage/mail_root.h"
#include "storage/maildir_overlap.h"
#include "storage/password/password_hash.h"
#include "storage/provisioning.h"
#include "core/config/daemon_settings.h"
#include "storage/secrets/secret_box.h"
#include "storage/sql/access_rule_rows.h"
#include "storage/sql/sql_db.h"
#include "storage/sql/sql_stores.h"

namespace mailroom::storage {
namespace {

namespace pw = password;
using sql::Db;
using sql::Statement;
using sql::Transaction;

// The settings of a postoffice or mailbox as "key=value" lines (settings_from_column reads them).
std::string settings_column(sql::Dialect d, const char* table, const char* alias, const char* owner_column,
                            const char* owner) {
  return "(SELECT " + sql::joined(d, std::string(alias) + ".key || '=' || " + alias + ".value", '\n') + " FROM " +
         table + " " + alias + " WHERE " + alias + "." + owner_column + " = " + owner + ")";
}

std::string select_mailbox_sql(sql::Dialect d) {
  return "SELECT m.id, m.name, p.name, m.enabled, p.enabled, m.maildir, m.password_scheme, m.created_at, "
         "m.password_hash, (SELECT " + sql::joined(d, "s.kind", ',') +
         " FROM mailbox_secrets s WHERE s.mailbox_id = m.id), " +
         settings_column(d, "mailbox_settings", "ms", "mailbox_id", "m.id") + ", " +
         settings_column(d, "postoffice_settings", "ps", "postoffice_id", "p.id") +
         " FROM mailboxes m JOIN postoffices p ON p.id = m.postoffice_id ";
}

// Settings rows joined as "key=value" lines (keys have no '=', canonical values no newline).
std::map<std::string, std::string> settings_from_column(const std::string& joined) {
  std::map<std::string, std::string> out;
  for (size_t start = 0; start < joined.size();) {
    size_t end = std::min(joined.find('\n', start), joined.size());
    std::string_view line(joined.data() + start, end - start);
    if (auto eq = line.find('='); eq != std::string_view::npos) {
      out.emplace(std::string(line.substr(0, eq)), std::string(line.substr(eq + 1)));
    }
    start = end + 1;
  }
  return out;
}

// Secret kinds are names chosen by a module ("scram-sha-256"); keeping them to this alphabet makes
// the comma-joined list above and the AAD (storage/secrets/secret_box.h) unambiguous.
constexpr size_t kMaxSecretKindLength = 64;
constexpr size_t kMaxSecretValueBytes = 16 * 1024;

std::string in_quotes(const std::string& s) { return "'" + s + "'"; }

int64_t now_seconds() { return static_cast<int64_t>(std::time(nullptr)); }

MailboxInfo mailbox_from_row(const Statement& row) {
  MailboxInfo info;
  info.id = row.column_int(0);
  info.address = Address{row.column_text(1), row.column_text(2)};
  info.enabled = row.column_bool(3);
  info.postoffice_enabled = row.column_bool(4);
  info.maildir = row.column_text(5);
  info.password_scheme = row.column_text(6);
  info.created_at = row.column_int(7);
  const std::string kinds = row.column_text(9);  // NULL (no secrets) reads as ""
  for (size_t start = 0; start < kinds.size();) {
    size_t end = std::min(kinds.find(',', start), kinds.size());
    if (end > start) info.secret_kinds.push_back(kinds.substr(start, end - start));
    start = end + 1;
  }
  std::sort(info.secret_kinds.begin(), info.secret_kinds.end());
  info.settings = settings_from_column(row.column_text(10));
  info.postoffice_settings = settings_from_column(row.column_text(11));
  return info;
}

bool valid_secret_kind(const std::string& kind) {
  if (kind.empty() || kind.size() > kMaxSecretKindLength || kind.front() == '-') return false;
  return std::all_of(kind.begin(), kind.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// Checked before anything is written; messages name the kind, never the value.
Status check_secrets(const std::vector<StoredSecret>& secrets) {
  for (const auto& s : secrets) {
    if (!valid_secret_kind(s.kind)) {
      return make_error(ErrorCode::kInvalidArgument,
                        "invalid secret kind " + in_quotes(s.kind) + " (lowercase letters, digits and '-', at most " +
                            std::to_string(kMaxSecretKindLength) + ")");
    }
    if (s.value.empty() || s.value.size() > kMaxSecretValueBytes) {
      return make_error(ErrorCode::kInvalidArgument, "the " + s.kind + " secret is empty or longer than " +
                                                         std::to_string(kMaxSecretValueBytes) + " bytes");
    }
  }
  return {};
}

// Plaintext equivalents are sealed; so is any value that happens to look sealed, so that a stored
// value starting with the prefix is always one we encrypted.
bool needs_sealing(const StoredSecret& s) { return s.plaintext_equivalent || SecretBox::is_sealed(s.value); }

Result<Address> normalize(const Address& address) {
  auto mailbox = normalize_mailbox_name(address.mailbox);
  if (!mailbox) return mailbox.error();
  auto postoffice = normalize_postoffice_name(address.postoffice);
  if (!postoffice) return postoffice.error();
  return Address{std::move(*mailbox), std::move(*postoffice)};
}

// Turns what the admin gave into what we store; slow for plaintext (argon2), so no lock held.
Result<pw::StoredHash> prepare_password(const std::string& password, PasswordKind kind) {
  if (kind == PasswordKind::kHash) return pw::parse_imported_hash(password);
  auto hash = pw::hash_password(password);
  if (!hash) return hash.error();
  return pw::StoredHash{std::string(pw::kSchemeArgon2id), std::move(*hash)};
}

Error no_postoffice(const std::string& name) {
  return make_error(ErrorCode::kNotFound, "postoffice " + in_quotes(name) + " does not exist");
}
Error no_mailbox(const Address& address) {
  return make_error(ErrorCode::kNotFound, "mailbox " + in_quotes(address.str()) + " does not exist");
}
Error no_service(const std::string& name) {
  return make_error(ErrorCode::kNotFound, "service " + in_quotes(name) + " does not exist");
}

Status check_absolute(const std::string& maildir) {
  if (maildir.empty() || maildir.front() != '/') {
    return make_error(ErrorCode::kInvalidArgument, "the maildir path must be absolute, got " + in_quotes(maildir));
  }
  return {};
}

// How the Maildir `path` relates to `other_path`, the Maildir of `other`: "is the Maildir of
// bob@example.test", "lies inside /srv/bob/Maildir, the Maildir of bob@example.test", ...
std::string overlap_text(Overlap how, const std::string& path, const std::string& other_path, const Address& other) {
  const std::string whose = other_path + ", the Maildir of " + other.str();
  switch (how) {
    case Overlap::kSame:
      return path == other_path ? "is the Maildir of " + other.str() : "is the same directory as " + whose;
    case Overlap::kInside:
      return "lies inside " + whose;
    case Overlap::kContains:
      return "contains " + whose;
  }
  return "overlaps " + whose;
}

std::string and_others(size_t others) {
  if (others == 0) return "";
  return " (and " + std::to_string(others) + (others == 1 ? " other mailbox's" : " other mailboxes'") + " Maildir too)";
}

// What a provisioning op is about, for the error that rolls the apply back.
struct OpSubject {
  std::string operator()(const provision_op::AddPostoffice& o) const { return "adding postoffice " + o.name; }
  std::string operator()(const provision_op::SetPostofficeEnabled& o) const { return "changing postoffice " + o.name; }
  std::string operator()(const provision_op::RemovePostoffice& o) const { return "removing postoffice " + o.name; }
  std::string operator()(const provision_op::AddMailbox& o) const { return "adding mailbox " + o.address.str(); }
  std::string operator()(const provision_op::SetPassword& o) const {
    return "changing the password of " + o.address.str();
  }
  std::string operator()(const provision_op::SetMailboxEnabled& o) const {
    return "changing mailbox " + o.address.str();
  }
  std::string operator()(const provision_op::RemoveMailbox& o) const { return "removing mailbox " + o.address.str(); }
  std::string operator()(const provision_op::AddService& o) const { return "adding service " + o.name; }
  std::string operator()(const provision_op::SetServiceEnabled& o) const { return "changing service " + o.name; }
  std::string operator()(const provision_op::RemoveService& o) const { return "removing service " + o.name; }
  std::string operator()(const provision_op::SetSetting& o) const {
    return "setting " + o.service + " " + o.key;
  }
  std::string operator()(const provision_op::SetPostofficeSetting& o) const {
    return "setting " + o.key + " of postoffice " + o.postoffice;
  }
  std::string operator()(const provision_op::SetMailboxSetting& o) const {
    return "setting " + o.key + " of mailbox " + o.address.str();
  }
  std::string operator()(const provision_op::SetDaemonSetting& o) const { return "setting daemon " + o.key; }
  std::string operator()(const provision_op::AddRule& o) const {
    return "adding " + o.rule.rule + " to the " + o.rule.list + " list of " + o.rule.service;
  }
  std::string operator()(const provision_op::SetRuleComment& o) const {
    return "changing the comment of " + o.rule.rule + " in the " + o.rule.list + " list of " + o.rule.service;
  }
  std::string operator()(const provision_op::RemoveRule& o) const {
    return "removing " + o.rule.rule + " from the " + o.rule.list + " list of " + o.rule.service;
  }
};

class SqlAccountStore final : public AccountAndProvisioningStore {
 public:
  SqlAccountStore(Db db, const std::string& data_dir)
      : db_(std::move(db)),
        data_dir_(data_dir),
        key_path_(secret_key_path(data_dir)),
        select_mailbox_(select_mailbox_sql(db_.dialect())) {}

  Status add_postoffice(const std::string& name) override {
    auto norm = normalize_postoffice_name(name);
    if (!norm) return norm.error();
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    if (auto id = insert_postoffice(*norm, /*enabled=*/true); !id) return id.error();
    return tx->commit();
  }

  Status remove_postoffice(const std::string& name, bool force) override {
    auto norm = normalize_postoffice_name(name);
    if (!norm) return norm.error();
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto id = find_postoffice_id(*norm);
    if (!id) return id.error();
    if (!*id) return no_postoffice(*norm);
    auto count = count_mailboxes(**id);
    if (!count) return count.error();
    if (*count > 0 && !force) {
      return make_error(ErrorCode::kInvalidArgument,
                        "postoffice " + in_quotes(*norm) + " still has " + std::to_string(*count) +
                            (*count == 1 ? " mailbox" : " mailboxes") +
                            " (remove them first or use --force)");
    }
    if (auto st = delete_postoffice_rows(**id); !st) return st;
    return tx->commit();
  }

  Result<std::vector<PostofficeInfo>> list_postoffices() override {
    std::lock_guard lock(mu_);
    return select_postoffices(std::nullopt);
  }

  Result<PostofficeInfo> get_postoffice(const std::string& name) override {
    auto norm = normalize_postoffice_name(name);
    if (!norm) return norm.error();
    std::lock_guard lock(mu_);
    auto list = select_postoffices(*norm);
    if (!list) return list.error();
    if (list->empty()) return no_postoffice(*norm);
    return std::move(list->front());
  }

  Status set_postoffice_enabled(const std::string& name, bool enabled) override {
    auto norm = normalize_postoffice_name(name);
    if (!norm) return norm.error();
    std::lock_guard lock(mu_);
    auto stmt = db_.prepare("UPDATE postoffices SET enabled = ?1 WHERE name = ?2");
    if (!stmt) return stmt.error();
    if (auto st = stmt->bind(1, enabled).bind(2, *norm).run(); !st) return st;
    if (db_.changes() == 0) return no_postoffice(*norm);
    return {};
  }

  Result<MailboxInfo> add_mailbox(const Address& address, const std::string& password, PasswordKind kind,
                                  const std::string& maildir, const std::vector<StoredSecret>& secrets) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    if (auto st = check_absolute(maildir); !st) return st.error();
    if (auto st = check_secrets(secrets); !st) return st.error();
    auto hash = prepare_password(password, kind);
    if (!hash) return hash.error();

    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto po = find_postoffice_id(addr->postoffice);
    if (!po) return po.error();
    if (!*po) return no_postoffice(addr->postoffice);
    auto existing = select_mailbox(*addr);
    if (!existing) return existing.error();
    if (*existing) {
      return make_error(ErrorCode::kAlreadyExists, "mailbox " + in_quotes(addr->str()) + " already exists");
    }
    // Checked here, in the transaction, whatever the caller checked before.
    if (auto st = maildir_available(*addr, maildir); !st) return st.error();
    if (auto st = insert_mailbox(**po, *addr, /*enabled=*/true, *hash, maildir, secrets); !st) return st.error();
    auto created = select_mailbox(*addr);
    if (!created) return created.error();
    if (!*created) return make_error(ErrorCode::kInternal, "mailbox " + in_quotes(addr->str()) + " vanished after insert");
    if (auto st = tx->commit(); !st) return st.error();
    return std::move(**created).info;
  }

  Status check_maildir(const Address& address, const std::string& maildir) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    if (auto st = check_absolute(maildir); !st) return st;
    std::lock_guard lock(mu_);
    return maildir_available(*addr, maildir);
  }

  Result<MailboxInfo> remove_mailbox(const Address& address, MaildirAfterRemove after) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto row = select_mailbox(*addr);
    if (!row) return row.error();
    if (!*row) {
      auto id = require_mailbox_id(*addr);  // names the postoffice when that is what is missing
      return id ? no_mailbox(*addr) : id.error();
    }
    MailboxInfo info = std::move(**row).info;
    // In the same transaction as the removal: no mailbox can be added on this Maildir meanwhile.
    if (after == MaildirAfterRemove::kDelete) {
      if (auto st = maildir_deletable(info); !st) return st.error();
    }
    auto stmt = db_.prepare("DELETE FROM mailboxes WHERE id = ?1");
    if (!stmt) return stmt.error();
    if (auto st = stmt->bind(1, info.id).run(); !st) return st.error();
    if (auto st = tx->commit(); !st) return st.error();
    return info;
  }

  Status set_password(const Address& address, const std::string& password, PasswordKind kind,
                      const std::vector<StoredSecret>& secrets) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    if (auto st = check_secrets(secrets); !st) return st;
    auto hash = prepare_password(password, kind);
    if (!hash) return hash.error();
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto id = require_mailbox_id(*addr);
    if (!id) return id.error();
    if (auto st = replace_password(*id, *addr, *hash, secrets); !st) return st;
    return tx->commit();
  }

  Status set_postoffice_setting(const std::string& name, const std::string& key,
                                const std::optional<std::string>& value) override {
    auto norm = normalize_postoffice_name(name);
    if (!norm) return norm.error();
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto id = find_postoffice_id(*norm);
    if (!id) return id.error();
    if (!*id) return no_postoffice(*norm);
    if (auto st = write_setting_row("postoffice_settings", "postoffice_id", **id, key, value); !st) return st;
    return tx->commit();
  }

  Status set_mailbox_setting(const Address& address, const std::string& key,
                             const std::optional<std::string>& value) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto id = require_mailbox_id(*addr);
    if (!id) return id.error();
    if (auto st = write_setting_row("mailbox_settings", "mailbox_id", *id, key, value); !st) return st;
    return tx->commit();
  }

  Status set_mailbox_enabled(const Address& address, bool enabled) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    return update_mailbox(*addr, enabled ? "UPDATE mailboxes SET enabled = 1" : "UPDATE mailboxes SET enabled = 0");
  }

  Result<MailboxInfo> get_mailbox(const Address& address) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    std::lock_guard lock(mu_);
    auto row = select_mailbox(*addr);
    if (!row) return row.error();
    if (!*row) return no_mailbox(*addr);
    return std::move(**row).info;
  }

  Result<std::vector<MailboxInfo>> list_mailboxes(const std::optional<std::string>& postoffice) override {
    std::optional<std::string> filter;
    if (postoffice) {
      auto norm = normalize_postoffice_name(*postoffice);
      if (!norm) return norm.error();
      filter = std::move(*norm);
    }
    std::lock_guard lock(mu_);
    if (filter) {
      auto id = find_postoffice_id(*filter);
      if (!id) return id.error();
      if (!*id) return no_postoffice(*filter);
    }
    auto stmt = db_.prepare(select_mailbox_ + "WHERE CAST(?1 AS TEXT) IS NULL OR p.name = ?1 ORDER BY p.name, m.name");
    if (!stmt) return stmt.error();
    if (filter) stmt->bind(1, *filter);
    std::vector<MailboxInfo> out;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(mailbox_from_row(*stmt));
    }
    return out;
  }

  Result<MailboxInfo> verify_password(const Address& address, const std::string& password) override {
    auto addr = normalize(address);
    if (!addr) {
      (void)pw::verify_password(password, pw::dummy_hash());
      return make_error(ErrorCode::kAuthFailed, "unknown mailbox (" + addr.error().message + ")");
    }
    std::optional<MailboxRow> found;
    {
      std::lock_guard lock(mu_);
      auto row = select_mailbox(*addr);
      if (!row) return row.error();
      found = std::move(*row);
    }
    // The slow hash runs without the lock so other logins and lookups proceed meanwhile.
    if (!found) {
      (void)pw::verify_password(password, pw::dummy_hash());
      return make_error(ErrorCode::kAuthFailed, "unknown mailbox " + in_quotes(addr->str()));
    }
    if (!pw::verify_password(password, found->password_hash)) {
      return make_error(ErrorCode::kAuthFailed, "wrong password for " + in_quotes(addr->str()));
    }
    if (!found->info.enabled) {
      return make_error(ErrorCode::kAuthFailed, "mailbox disabled: " + in_quotes(addr->str()));
    }
    if (!found->info.postoffice_enabled) {
      return make_error(ErrorCode::kAuthFailed, "postoffice disabled: " + in_quotes(addr->postoffice));
    }
    return std::move(found->info);
  }

  Result<std::string> upgrade_password_hash(const Address& address, const std::string& password) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    std::optional<MailboxRow> found;
    {
      std::lock_guard lock(mu_);
      auto row = select_mailbox(*addr);
      if (!row) return row.error();
      found = std::move(*row);
    }
    if (!found) return no_mailbox(*addr);
    if (found->info.password_scheme == pw::kSchemeArgon2id) return std::string();
    // Both hashes run without the lock; the UPDATE below is the compare-and-swap, one statement
    // and no transaction on either back end: SQLite runs it under its write lock, PostgreSQL
    // (READ COMMITTED) re-checks the WHERE on the newest row version after any concurrent writer,
    // so a password changed meanwhile makes it change no row.
    if (!pw::verify_password(password, found->password_hash)) return std::string();
    auto fresh = prepare_password(password, PasswordKind::kPlaintext);
    if (!fresh) return fresh.error();
    std::lock_guard lock(mu_);
    auto update = db_.prepare(
        "UPDATE mailboxes SET password_hash = ?2, password_scheme = ?3 WHERE id = ?1 AND password_hash = ?4");
    if (!update) return update.error();
    if (auto st = update->bind(1, found->info.id).bind(2, fresh->stored).bind(3, fresh->scheme)
                      .bind(4, found->password_hash).run();
        !st) {
      return st.error();
    }
    if (db_.changes() == 0) return std::string();  // changed meanwhile: that password wins
    return found->info.password_scheme;
  }

  Status put_secrets(const Address& address, const std::vector<StoredSecret>& secrets) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    if (auto st = check_secrets(secrets); !st) return st;
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto id = require_mailbox_id(*addr);
    if (!id) return id.error();
    if (auto st = write_secrets(*id, *addr, secrets); !st) return st;
    return tx->commit();
  }

  Result<std::optional<std::string>> get_secret(const Address& address, const std::string& kind) override {
    auto addr = normalize(address);
    if (!addr) return make_error(ErrorCode::kAuthFailed, "unknown mailbox (" + addr.error().message + ")");
    std::lock_guard lock(mu_);
    auto row = select_mailbox(*addr);
    if (!row) return row.error();
    if (!*row) return make_error(ErrorCode::kAuthFailed, "unknown mailbox " + in_quotes(addr->str()));
    const MailboxInfo& info = (*row)->info;
    if (!info.enabled) return make_error(ErrorCode::kAuthFailed, "mailbox disabled: " + in_quotes(addr->str()));
    if (!info.postoffice_enabled) {
      return make_error(ErrorCode::kAuthFailed, "postoffice disabled: " + in_quotes(addr->postoffice));
    }
    auto stmt = db_.prepare("SELECT value FROM mailbox_secrets WHERE mailbox_id = ?1 AND kind = ?2");
    if (!stmt) return stmt.error();
    auto found = stmt->bind(1, info.id).bind(2, kind).step();
    if (!found) return found.error();
    if (!*found) return std::optional<std::string>();
    std::string stored = stmt->column_text(0);
    if (!SecretBox::is_sealed(stored)) return std::optional<std::string>(std::move(stored));

    const std::string what = "the " + kind + " secret of " + in_quotes(addr->str());
    auto box = box_for_read();
    if (!box) {
      return make_error(ErrorCode::kInternal, "cannot decrypt " + what + ": " + box.error().message +
                                                  " (restore the key file from backup, or set the password again)");
    }
    auto plain = (*box)->open(stored, secret_aad(info.id, kind));
    if (!plain) {
      return make_error(ErrorCode::kInternal, "cannot decrypt " + what + ": " + plain.error().message + " (is " +
                                                  key_path_ + " the key it was stored with? setting the password "
                                                  "again replaces it)");
    }
    return std::optional<std::string>(std::move(*plain));
  }

  Result<int64_t> purge_secrets(const std::vector<std::string>& kinds) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto stmt = db_.prepare("DELETE FROM mailbox_secrets WHERE kind = ?1");
    if (!stmt) return stmt.error();
    int64_t deleted = 0;
    for (const auto& kind : std::set<std::string>(kinds.begin(), kinds.end())) {
      if (auto st = stmt->reset().bind(1, kind).run(); !st) return st.error();
      deleted += db_.changes();
    }
    if (auto st = tx->commit(); !st) return st.error();
    return deleted;
  }

  Result<std::vector<ServiceRecord>> list_services() override {
    std::lock_guard lock(mu_);
    return select_services(std::nullopt);
  }

  Result<ServiceRecord> get_service(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto list = select_services(name);
    if (!list) return list.error();
    if (list->empty()) return no_service(name);
    return std::move(list->front());
  }

  Status ensure_service(const std::string& name, const std::string& module, bool enabled) override {
    if (name.empty() || module.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "a service needs a name and a module");
    }
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto stmt = db_.prepare("INSERT INTO services (name, module, enabled) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING");
    if (!stmt) return stmt.error();
    if (auto st = stmt->bind(1, name).bind(2, module).bind(3, enabled).run(); !st) return st;
    return tx->commit();
  }

  Status set_service_enabled(const std::string& name, bool enabled) override {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto stmt = db_.prepare("UPDATE services SET enabled = ?2 WHERE name = ?1");
    if (!stmt) return stmt.error();
    if (auto st = stmt->bind(1, name).bind(2, enabled).run(); !st) return st;
    if (db_.changes() == 0) return no_service(name);
    return tx->commit();
  }

  Status set_service_setting(const std::string& name, const std::string& key,
                             const std::optional<std::string>& value) override {
    if (key.empty()) return make_error(ErrorCode::kInvalidArgument, "the setting key is empty");
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto exists = db_.prepare("SELECT 1 FROM services WHERE name = ?1");
    if (!exists) return exists.error();
    auto row = exists->bind(1, name).step();
    if (!row) return row.error();
    if (!*row) return no_service(name);
    auto stmt = db_.prepare(value ? "INSERT INTO service_settings (service, key, value) VALUES (?1, ?2, ?3) "
                                    "ON CONFLICT (service, key) DO UPDATE SET value = excluded.value"
                                  : "DELETE FROM service_settings WHERE service = ?1 AND key = ?2");
    if (!stmt) return stmt.error();
    stmt->bind(1, name).bind(2, key);
    if (value) stmt->bind(3, *value);
    if (auto st = stmt->run(); !st) return st;
    return tx->commit();
  }

  Result<std::map<std::string, std::string>> daemon_settings() override {
    std::lock_guard lock(mu_);
    auto stmt = db_.prepare("SELECT key, value FROM daemon_settings ORDER BY key");
    if (!stmt) return stmt.error();
    std::map<std::string, std::string> out;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      std::string key = stmt->column_text(0);
      std::string value = stmt->column_text(1);
      if (SecretBox::is_sealed(value)) {
        auto plain = open_daemon_secret(key, value);
        if (!plain) return plain.error();
        value = std::move(*plain);
      }
      out.emplace(std::move(key), std::move(value));
    }
    return out;
  }

  Status set_daemon_setting(const std::string& key, const std::optional<std::string>& value) override {
    if (key.empty()) return make_error(ErrorCode::kInvalidArgument, "the setting key is empty");
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto stmt = db_.prepare(value ? "INSERT INTO daemon_settings (key, value) VALUES (?1, ?2) "
                                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                                  : "DELETE FROM daemon_settings WHERE key = ?1");
    if (!stmt) return stmt.error();
    stmt->bind(1, key);
    std::string stored;
    if (value) {
      stored = *value;
      const config::SettingSpec* spec = config::daemon_settings_catalog().find(key);
      if (spec != nullptr && spec->secret && !value->empty()) {
        auto box = box_for_write();
        if (!box) return Error{box.error().code, "cannot store " + key + ": " + box.error().message};
        auto sealed = (*box)->seal(*value, daemon_secret_aad(key));
        if (!sealed) return sealed.error();
        stored = std::move(*sealed);
      }
      stmt->bind(2, stored);
    }
    if (auto st = stmt->run(); !st) return st;
    return tx->commit();
  }

  Result<int64_t> data_version() override {
    std::lock_guard lock(mu_);
    return db_.data_version();
  }

  // ---- ProvisioningStore ----

  Result<ProvisioningSnapshot> provisioning_snapshot() override {
    std::lock_guard lock(mu_);
    // A read transaction: every table from the same moment.
    auto tx = Transaction::begin_read(db_);
    if (!tx) return tx.error();
    auto snapshot = read_snapshot();
    if (!snapshot) return snapshot.error();
    if (auto st = tx->commit(); !st) return st.error();
    return snapshot;
  }

  Status apply_provisioning(const std::vector<ProvisionOp>& ops) override {
    if (ops.empty()) return {};
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    ProvisionRun run;
    for (const auto& op : ops) {
      if (auto st = std::visit([&](const auto& o) { return apply_op(run, o); }, op); !st) {
        return Error{st.error().code, std::visit(OpSubject{}, op) + ": " + st.error().message};
      }
    }
    if (run.rules_changed) {
      if (auto st = sql::bump_policy_generation(db_); !st) return st;
    }
    return tx->commit();
  }

 private:
  struct MailboxRow {
    MailboxInfo info;
    std::string password_hash;
  };

  // The helpers below expect mu_ to be held.

  // Empty if the postoffice does not exist.
  Result<std::optional<int64_t>> find_postoffice_id(const std::string& name) {
    auto stmt = db_.prepare("SELECT id FROM postoffices WHERE name = ?1");
    if (!stmt) return stmt.error();
    auto row = stmt->bind(1, name).step();
    if (!row) return row.error();
    if (!*row) return std::optional<int64_t>();
    return std::optional<int64_t>(stmt->column_int(0));
  }

  Result<int64_t> count_mailboxes(int64_t postoffice_id) {
    auto stmt = db_.prepare("SELECT COUNT(*) FROM mailboxes WHERE postoffice_id = ?1");
    if (!stmt) return stmt.error();
    auto row = stmt->bind(1, postoffice_id).step();
    if (!row) return row.error();
    return stmt->column_int(0);
  }

  Result<std::optional<MailboxRow>> select_mailbox(const Address& addr) {
    auto stmt = db_.prepare(select_mailbox_ + "WHERE p.name = ?1 AND m.name = ?2");
    if (!stmt) return stmt.error();
    auto row = stmt->bind(1, addr.postoffice).bind(2, addr.mailbox).step();
    if (!row) return row.error();
    if (!*row) return std::optional<MailboxRow>();
    return std::optional<MailboxRow>(MailboxRow{mailbox_from_row(*stmt), stmt->column_text(8)});
  }

  // The row id of a mailbox; kNotFound naming the mailbox, or its postoffice if that is missing.
  Result<int64_t> require_mailbox_id(const Address& addr) {
    auto stmt = db_.prepare(
        "SELECT m.id FROM mailboxes m JOIN postoffices p ON p.id = m.postoffice_id WHERE p.name = ?1 AND m.name = ?2");
    if (!stmt) return stmt.error();
    auto row = stmt->bind(1, addr.postoffice).bind(2, addr.mailbox).step();
    if (!row) return row.error();
    if (*row) return stmt->column_int(0);
    auto po = find_postoffice_id(addr.postoffice);
    if (!po) return po.error();
    return *po ? no_mailbox(addr) : no_postoffice(addr.postoffice);
  }

  struct MaildirRow {
    Address address;
    std::string maildir;
  };

  // Every mailbox's Maildir, in address order (so a message names the same one each time).
  Result<std::vector<MaildirRow>> maildir_rows() {
    auto stmt = db_.prepare(
        "SELECT m.name, p.name, m.maildir FROM mailboxes m JOIN postoffices p ON p.id = m.postoffice_id "
        "ORDER BY p.name, m.name");
    if (!stmt) return stmt.error();
    std::vector<MaildirRow> out;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(MaildirRow{Address{stmt->column_text(0), stmt->column_text(1)}, stmt->column_text(2)});
    }
    return out;
  }

  // How the Maildirs of mailboxes other than `self` overlap `maildir`: "is the Maildir of
  // bob@example.test (and 1 other mailbox's Maildir too)"; nullopt when none does. Every stored
  // path is resolved: an alias through a symlink is only found that way.
  Result<std::optional<std::string>> overlapping_mailboxes(PathResolver& paths, const Address& self,
                                                           const std::string& maildir) {
    const std::string wanted = paths.resolve(maildir);
    auto rows = maildir_rows();
    if (!rows) return rows.error();
    std::optional<std::string> first;
    size_t others = 0;
    for (const auto& row : *rows) {
      if (row.address == self) continue;
      auto how = overlap(wanted, paths.resolve(row.maildir));
      if (!how) continue;
      if (first) {
        ++others;
      } else {
        first = overlap_text(*how, maildir, row.maildir, row.address);
      }
    }
    if (first) *first += and_others(others);
    return first;
  }

  // check_maildir(), with mu_ held.
  Status maildir_available(const Address& addr, const std::string& maildir) {
    PathResolver paths;
    const std::string prefix = "cannot use " + maildir + " as the Maildir of " + addr.str() + ": it ";
    // Another mailbox first: naming it is the most useful answer.
    auto used = overlapping_mailboxes(paths, addr, maildir);
    if (!used) return used.error();
    if (*used) return make_error(ErrorCode::kInUse, prefix + **used + " (a Maildir belongs to one mailbox)");
    const std::string wanted = paths.resolve(maildir);
    const std::string own = default_maildir(data_dir_, addr);
    if (auto how = overlap(wanted, paths.resolve(data_dir_))) {
      if (*how != Overlap::kInside) {
        return make_error(ErrorCode::kInvalidArgument,
                          prefix + (*how == Overlap::kSame ? "is" : "contains") + " the data directory " + data_dir_);
      }
      // DATA/mail/<postoffice>/<mailbox>/Maildir is where that address's mail goes when its
      // mailbox is added: only the address itself may have it, and nobody the rest of the tree.
      if (wanted != paths.resolve(own)) {
        return make_error(ErrorCode::kInvalidArgument,
                          prefix + "is inside the data directory " + data_dir_ + ", where " + addr.str() +
                              " can only have its own Maildir, " + own + " (the rest of " + mail_root(data_dir_) +
                              " is other addresses' place)");
      }
    }
    // The same rule for a configured mail_root (storage/mail_root.h; DATA/mail is checked above).
    auto root = configured_mail_root_locked();
    if (!root) return root.error();
    if (*root == mail_root(data_dir_)) return {};
    if (auto how = overlap(wanted, paths.resolve(*root))) {
      const std::string own_there = default_maildir_under(*root, addr);
      if (*how != Overlap::kInside || wanted != paths.resolve(own_there)) {
        return make_error(ErrorCode::kInvalidArgument,
                          prefix + (*how == Overlap::kInside ? "is inside" : *how == Overlap::kSame ? "is" : "contains") +
                              " the mail_root " + *root + ", where " + addr.str() + " can only have its own Maildir, " +
                              own_there + " (the rest of it is other addresses' place)");
      }
    }
    return {};
  }

  // The mail_root daemon setting as storage/mail_root.h resolves it, with mu_ held.
  Result<std::string> configured_mail_root_locked() {
    auto stmt = db_.prepare("SELECT value FROM daemon_settings WHERE key = 'mail_root'");
    if (!stmt) return stmt.error();
    auto row = stmt->step();
    if (!row) return row.error();
    return effective_mail_root(data_dir_, *row ? stmt->column_text(0) : std::string());
  }

  // Whether the caller may delete the Maildir of `info` (mu_ held): no other mailbox's Maildir is
  // the same directory, around it or inside it, and it does not hold the data directory.
  Status maildir_deletable(const MailboxInfo& info) {
    PathResolver paths;
    const std::string prefix = "the Maildir " + info.maildir + " of " + info.address.str() + " ";
    if (auto how = overlap(paths.resolve(info.maildir), paths.resolve(data_dir_)); how && *how != Overlap::kInside) {
      return make_error(ErrorCode::kInUse, prefix + (*how == Overlap::kSame ? "is" : "contains") +
                                               " the data directory " + data_dir_);
    }
    auto used = overlapping_mailboxes(paths, info.address, info.maildir);
    if (!used) return used.error();
    if (*used) return make_error(ErrorCode::kInUse, prefix + "is still in use: it " + **used);
    return {};
  }

  // The key, loaded once. Writing a plaintext equivalent creates it on first use; reading never
  // does: a missing key means the sealed values cannot be opened.
  Result<const SecretBox*> box_for_write() { return box(/*create=*/true); }
  Result<const SecretBox*> box_for_read() { return box(/*create=*/false); }
  Result<const SecretBox*> box(bool create) {
    if (!box_) {
      auto loaded = create ? SecretBox::load_or_create(key_path_) : SecretBox::load(key_path_);
      if (!loaded) return loaded.error();
      box_.emplace(std::move(*loaded));
    }
    return &*box_;
  }

  // A secret daemon setting (config::SettingSpec::secret) is sealed under its key's name.
  static std::string daemon_secret_aad(const std::string& key) { return secret_aad(0, "daemon_setting:" + key); }
  Result<std::string> open_daemon_secret(const std::string& key, const std::string& stored) {
    auto box = box_for_read();
    if (!box) {
      return make_error(ErrorCode::kInternal, "cannot decrypt the daemon setting " + key + ": " + box.error().message +
                                                  " (restore the key file from backup, or set it again)");
    }
    auto plain = (*box)->open(stored, daemon_secret_aad(key));
    if (!plain) {
      return make_error(ErrorCode::kInternal, "cannot decrypt the daemon setting " + key + ": " +
                                                  plain.error().message + " (set it again to replace it)");
    }
    return plain;
  }

  // Adds or replaces `secrets` of mailbox row `mailbox_id` (in the caller's transaction).
  Status write_secrets(int64_t mailbox_id, const Address& addr, const std::vector<StoredSecret>& secrets) {
    if (secrets.empty()) return {};
    const SecretBox* box = nullptr;
    if (std::any_of(secrets.begin(), secrets.end(), needs_sealing)) {
      auto loaded = box_for_write();
      if (!loaded) {
        return Error{loaded.error().code, "cannot store the secrets of " + in_quotes(addr.str()) +
                                              " for the legacy mechanisms: " + loaded.error().message};
      }
      box = *loaded;
    }
    auto stmt = db_.prepare(
        "INSERT INTO mailbox_secrets (mailbox_id, kind, value) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (mailbox_id, kind) DO UPDATE SET value = excluded.value");
    if (!stmt) return stmt.error();
    for (const auto& s : secrets) {
      std::string stored;
      if (needs_sealing(s)) {
        auto sealed = box->seal(s.value, secret_aad(mailbox_id, s.kind));
        if (!sealed) return sealed.error();
        stored = std::move(*sealed);
      } else {
        stored = s.value;
      }
      if (auto st = stmt->reset().bind(1, mailbox_id).bind(2, s.kind).bind(3, stored).run(); !st) return st;
    }
    return {};
  }

  // A new postoffice row (kAlreadyExists if the name is taken); returns its id.
  Result<int64_t> insert_postoffice(const std::string& name, bool enabled) {
    auto id = find_postoffice_id(name);
    if (!id) return id.error();
    if (*id) return make_error(ErrorCode::kAlreadyExists, "postoffice " + in_quotes(name) + " already exists");
    auto stmt = db_.prepare("INSERT INTO postoffices (name, enabled, created_at) VALUES (?1, ?2, ?3) RETURNING id");
    if (!stmt) return stmt.error();
    return inserted_id(stmt->bind(1, name).bind(2, enabled).bind(3, now_seconds()));
  }

  // The id an INSERT ... RETURNING id gives back.
  static Result<int64_t> inserted_id(Statement& stmt) {
    auto row = stmt.step();
    if (!row) return row.error();
    if (!*row) return make_error(ErrorCode::kInternal, "database error: an insert returned no id");
    const int64_t id = stmt.column_int(0);
    if (auto st = stmt.run(); !st) return st.error();
    return id;
  }

  // A postoffice row and its mailboxes' records.
  Status delete_postoffice_rows(int64_t id) {
    for (const char* sql : {"DELETE FROM mailboxes WHERE postoffice_id = ?1", "DELETE FROM postoffices WHERE id = ?1"}) {
      auto stmt = db_.prepare(sql);
      if (!stmt) return stmt.error();
      if (auto st = stmt->bind(1, id).run(); !st) return st;
    }
    return {};
  }

  // Inserts a mailbox row and its secrets (in the caller's transaction, checks done).
  Status insert_mailbox(int64_t postoffice_id, const Address& addr, bool enabled, const pw::StoredHash& hash,
                        const std::string& maildir, const std::vector<StoredSecret>& secrets) {
    auto stmt = db_.prepare(
        "INSERT INTO mailboxes (postoffice_id, name, enabled, password_hash, password_scheme, maildir, "
        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id");
    if (!stmt) return stmt.error();
    stmt->bind(1, postoffice_id).bind(2, addr.mailbox).bind(3, enabled).bind(4, hash.stored).bind(5, hash.scheme);
    auto id = inserted_id(stmt->bind(6, maildir).bind(7, now_seconds()));
    if (!id) return id.error();
    return write_secrets(*id, addr, secrets);
  }

  // Replaces the hash of mailbox row `id` and every derived secret (in the caller's transaction).
  Status replace_password(int64_t id, const Address& addr, const pw::StoredHash& hash,
                          const std::vector<StoredSecret>& secrets) {
    auto update = db_.prepare("UPDATE mailboxes SET password_hash = ?2, password_scheme = ?3 WHERE id = ?1");
    if (!update) return update.error();
    if (auto st = update->bind(1, id).bind(2, hash.stored).bind(3, hash.scheme).run(); !st) return st;
    // Every secret derived from the old password is wrong now, including kinds not given here.
    auto clear = db_.prepare("DELETE FROM mailbox_secrets WHERE mailbox_id = ?1");
    if (!clear) return clear.error();
    if (auto st = clear->bind(1, id).run(); !st) return st;
    return write_secrets(id, addr, secrets);
  }

  // ---- provisioning helpers (mu_ held, inside apply_provisioning's transaction) ----

  struct ProvisionRun {
    std::map<std::string, int64_t> postoffice_ids;  // looked up or added during this apply
    bool rules_changed = false;
  };

  Result<ProvisioningSnapshot> read_snapshot() {
    ProvisioningSnapshot out;
    auto pos = select_postoffices(std::nullopt);
    if (!pos) return pos.error();
    for (const auto& p : *pos) out.postoffices.push_back(ProvisionedPostoffice{p.name, p.enabled, p.settings});
    auto mb = db_.prepare(
        "SELECT m.name, p.name, m.enabled, m.password_hash, m.maildir, "
        + settings_column(db_.dialect(), "mailbox_settings", "ms", "mailbox_id", "m.id") +
        " FROM mailboxes m JOIN postoffices p ON p.id = m.postoffice_id ORDER BY p.name, m.name");
    if (!mb) return mb.error();
    while (true) {
      auto row = mb->step();
      if (!row) return row.error();
      if (!*row) break;
      out.mailboxes.push_back(ProvisionedMailbox{Address{mb->column_text(0), mb->column_text(1)}, mb->column_bool(2),
                                                 mb->column_text(3), mb->column_text(4),
                                                 settings_from_column(mb->column_text(5))});
    }
    auto services = select_services(std::nullopt);
    if (!services) return services.error();
    out.services = std::move(*services);
    auto rules = db_.prepare("SELECT service, list, rule, comment FROM access_rules ORDER BY service, list, id");
    if (!rules) return rules.error();
    while (true) {
      auto row = rules->step();
      if (!row) return row.error();
      if (!*row) break;
      out.rules.push_back(ProvisionedRule{rules->column_text(0), rules->column_text(1), rules->column_text(2),
                                          rules->column_text(3)});
    }
    auto daemon = db_.prepare("SELECT key, value FROM daemon_settings ORDER BY key");
    if (!daemon) return daemon.error();
    while (true) {
      auto row = daemon->step();
      if (!row) return row.error();
      if (!*row) break;
      std::string value = daemon->column_text(1);
      if (SecretBox::is_sealed(value)) continue;  // a secret: never in a snapshot
      out.daemon_settings.emplace(daemon->column_text(0), std::move(value));
    }
    return out;
  }

  Result<int64_t> provision_postoffice_id(ProvisionRun& run, const std::string& name) {
    if (auto it = run.postoffice_ids.find(name); it != run.postoffice_ids.end()) return it->second;
    auto id = find_postoffice_id(name);
    if (!id) return id.error();
    if (!*id) return no_postoffice(name);
    run.postoffice_ids.emplace(name, **id);
    return **id;
  }

  Status require_service_row(const std::string& name) {
    auto exists = sql::service_exists(db_, name);
    if (!exists) return exists.error();
    if (!*exists) return no_service(name);
    return {};
  }

  // Runs `sql` with the bound values; kNotFound (`missing`) when no row changed.
  template <class... Values>
  Status change_one(const std::string& sql, const Error& missing, const Values&... values) {
    auto stmt = db_.prepare(sql);
    if (!stmt) return stmt.error();
    int index = 0;
    (stmt->bind(++index, values), ...);
    if (auto st = stmt->run(); !st) return st;
    if (db_.changes() == 0) return missing;
    return {};
  }

  Status apply_op(ProvisionRun& run, const provision_op::AddPostoffice& o) {
    auto norm = normalize_postoffice_name(o.name);
    if (!norm) return norm.error();
    auto id = insert_postoffice(*norm, o.enabled);
    if (!id) return id.error();
    run.postoffice_ids[*norm] = *id;
    return {};
  }

  Status apply_op(ProvisionRun&, const provision_op::SetPostofficeEnabled& o) {
    return change_one("UPDATE postoffices SET enabled = ?1 WHERE name = ?2", no_postoffice(o.name), o.enabled, o.name);
  }

  Status apply_op(ProvisionRun& run, const provision_op::RemovePostoffice& o) {
    auto id = provision_postoffice_id(run, o.name);
    if (!id) return id.error();
    if (auto st = delete_postoffice_rows(*id); !st) return st;
    run.postoffice_ids.erase(o.name);
    return {};
  }

  Status apply_op(ProvisionRun& run, const provision_op::AddMailbox& o) {
    auto addr = normalize(o.address);
    if (!addr) return addr.error();
    if (auto st = check_absolute(o.maildir); !st) return st;
    if (auto st = check_secrets(o.secrets); !st) return st;
    auto hash = pw::parse_imported_hash(o.password_hash);
    if (!hash) return hash.error();
    auto po = provision_postoffice_id(run, addr->postoffice);
    if (!po) return po.error();
    auto existing = require_mailbox_id(*addr);
    if (existing) return make_error(ErrorCode::kAlreadyExists, "mailbox " + in_quotes(addr->str()) + " already exists");
    if (existing.error().code != ErrorCode::kNotFound) return existing.error();
    // The default Maildir is the address's own place (no other mailbox may be in DATA/mail or the
    // mail_root): only another path needs the overlap check, which reads every mailbox's Maildir.
    auto root = configured_mail_root_locked();
    if (!root) return root.error();
    if (o.maildir != default_maildir(data_dir_, *addr) && o.maildir != default_maildir_under(*root, *addr)) {
      if (auto st = maildir_available(*addr, o.maildir); !st) return st;
    }
    return insert_mailbox(*po, *addr, o.enabled, *hash, o.maildir, o.secrets);
  }

  Status apply_op(ProvisionRun&, const provision_op::SetPassword& o) {
    auto addr = normalize(o.address);
    if (!addr) return addr.error();
    if (auto st = check_secrets(o.secrets); !st) return st;
    auto hash = pw::parse_imported_hash(o.password_hash);
    if (!hash) return hash.error();
    auto id = require_mailbox_id(*addr);
    if (!id) return id.error();
    return replace_password(*id, *addr, *hash, o.secrets);
  }

  Status apply_op(ProvisionRun&, const provision_op::SetMailboxEnabled& o) {
    auto addr = normalize(o.address);
    if (!addr) return addr.error();
    auto id = require_mailbox_id(*addr);
    if (!id) return id.error();
    return change_one("UPDATE mailboxes SET enabled = ?1 WHERE id = ?2", no_mailbox(*addr), o.enabled, *id);
  }

  Status apply_op(ProvisionRun&, const provision_op::RemoveMailbox& o) {
    auto addr = normalize(o.address);
    if (!addr) return addr.error();
    auto id = require_mailbox_id(*addr);
    if (!id) return id.error();
    return change_one("DELETE FROM mailboxes WHERE id = ?1", no_mailbox(*addr), *id);
  }

  Status apply_op(ProvisionRun&, const provision_op::AddService& o) {
    if (o.name.empty() || o.module.empty()) {
      return make_error(ErrorCode::kInvalidArgument, "a service needs a name and a module");
    }
    auto stmt = db_.prepare("INSERT INTO services (name, module, enabled) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING");
    if (!stmt) return stmt.error();
    if (auto st = stmt->bind(1, o.name).bind(2, o.module).bind(3, o.enabled).run(); !st) return st;
    if (db_.changes() == 0) return make_error(ErrorCode::kAlreadyExists, "service " + in_quotes(o.name) + " already exists");
    return {};
  }

  Status apply_op(ProvisionRun&, const provision_op::SetServiceEnabled& o) {
    return change_one("UPDATE services SET enabled = ?1 WHERE name = ?2", no_service(o.name), o.enabled, o.name);
  }

  Status apply_op(ProvisionRun& run, const provision_op::RemoveService& o) {
    // Settings, rules and blocks go with it (ON DELETE CASCADE).
    if (auto st = change_one("DELETE FROM services WHERE name = ?1", no_service(o.name), o.name); !st) return st;
    run.rules_changed = true;
    return {};
  }

  Status apply_op(ProvisionRun&, const provision_op::SetSetting& o) {
    if (o.key.empty()) return make_error(ErrorCode::kInvalidArgument, "the setting key is empty");
    if (auto st = require_service_row(o.service); !st) return st;
    if (!o.value) {
      return change_one("DELETE FROM service_settings WHERE service = ?1 AND key = ?2",
                        make_error(ErrorCode::kNotFound, "the setting is not set"), o.service, o.key);
    }
    auto stmt = db_.prepare(
        "INSERT INTO service_settings (service, key, value) VALUES (?1, ?2, ?3) "
        "ON CONFLICT (service, key) DO UPDATE SET value = excluded.value");
    if (!stmt) return stmt.error();
    return stmt->bind(1, o.service).bind(2, o.key).bind(3, *o.value).run();
  }

  Status apply_op(ProvisionRun& run, const provision_op::SetPostofficeSetting& o) {
    if (o.key.empty()) return make_error(ErrorCode::kInvalidArgument, "the setting key is empty");
    auto id = provision_postoffice_id(run, o.postoffice);
    if (!id) return id.error();
    return write_provisioned_setting("postoffice_settings", "postoffice_id", *id, o.key, o.value);
  }

  Status apply_op(ProvisionRun&, const provision_op::SetMailboxSetting& o) {
    if (o.key.empty()) return make_error(ErrorCode::kInvalidArgument, "the setting key is empty");
    auto addr = normalize(o.address);
    if (!addr) return addr.error();
    auto id = require_mailbox_id(*addr);
    if (!id) return id.error();
    return write_provisioned_setting("mailbox_settings", "mailbox_id", *id, o.key, o.value);
  }

  // write_setting_row(), except that removing a value that is not set is an error: the plan was
  // made from a snapshot, so the database changed meanwhile.
  Status write_provisioned_setting(const std::string& table, const std::string& owner_column, int64_t owner,
                                   const std::string& key, const std::optional<std::string>& value) {
    if (auto st = write_setting_row(table, owner_column, owner, key, value); !st) return st;
    if (!value && db_.changes() == 0) return make_error(ErrorCode::kNotFound, "the setting is not set");
    return {};
  }

  Status apply_op(ProvisionRun&, const provision_op::SetDaemonSetting& o) {
    if (o.key.empty()) return make_error(ErrorCode::kInvalidArgument, "the setting key is empty");
    const config::SettingSpec* spec = config::daemon_settings_catalog().find(o.key);
    if (spec != nullptr && spec->secret) {
      return make_error(ErrorCode::kInvalidArgument, "a secret setting is set with 'mailctl daemon set' only");
    }
    if (!o.value) {
      return change_one("DELETE FROM daemon_settings WHERE key = ?1",
                        make_error(ErrorCode::kNotFound, "the setting is not set"), o.key);
    }
    auto stmt = db_.prepare(
        "INSERT INTO daemon_settings (key, value) VALUES (?1, ?2) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    if (!stmt) return stmt.error();
    return stmt->bind(1, o.key).bind(2, *o.value).run();
  }

  Status apply_op(ProvisionRun& run, const provision_op::AddRule& o) {
    if (auto st = require_service_row(o.rule.service); !st) return st;
    auto inserted = sql::insert_access_rule(db_, o.rule.service, o.rule.list, o.rule.rule, o.rule.comment,
                                               now_seconds());
    if (!inserted) return inserted.error();
    if (!inserted->has_value()) return make_error(ErrorCode::kAlreadyExists, "the rule is already in that list");
    run.rules_changed = true;
    return {};
  }

  Status apply_op(ProvisionRun&, const provision_op::SetRuleComment& o) {
    return change_one("UPDATE access_rules SET comment = ?4 WHERE service = ?1 AND list = ?2 AND rule = ?3",
                      make_error(ErrorCode::kNotFound, "no such rule"), o.rule.service, o.rule.list, o.rule.rule,
                      o.rule.comment);
  }

  Status apply_op(ProvisionRun& run, const provision_op::RemoveRule& o) {
    auto deleted = sql::delete_access_rule(db_, o.rule.service, o.rule.list, o.rule.rule);
    if (!deleted) return deleted.error();
    if (!*deleted) return make_error(ErrorCode::kNotFound, "no such rule");
    run.rules_changed = true;
    return {};
  }

  // Replaces (or with nullopt deletes) one row of postoffice_settings/mailbox_settings.
  Status write_setting_row(const std::string& table, const std::string& owner_column, int64_t owner,
                           const std::string& key, const std::optional<std::string>& value) {
    auto stmt = value ? db_.prepare("INSERT INTO " + table + " (" + owner_column + ", key, value) VALUES (?1, ?2, ?3) "
                                    "ON CONFLICT (" + owner_column + ", key) DO UPDATE SET value = excluded.value")
                      : db_.prepare("DELETE FROM " + table + " WHERE " + owner_column + " = ?1 AND key = ?2");
    if (!stmt) return stmt.error();
    stmt->bind(1, owner).bind(2, key);
    if (value) stmt->bind(3, *value);
    return stmt->run();
  }

  // Runs "`sql` WHERE <the mailbox>" in a transaction; kNotFound if no row matched.
  Status update_mailbox(const Address& addr, const std::string& sql) {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto stmt = db_.prepare(sql + " WHERE name = ?2 AND postoffice_id = (SELECT id FROM postoffices WHERE name = ?1)");
    if (!stmt) return stmt.error();
    stmt->bind(1, addr.postoffice).bind(2, addr.mailbox);
    if (auto st = stmt->run(); !st) return st;
    if (db_.changes() == 0) {
      auto po = find_postoffice_id(addr.postoffice);
      if (!po) return po.error();
      return *po ? no_mailbox(addr) : no_postoffice(addr.postoffice);
    }
    return tx->commit();
  }

  Result<std::vector<PostofficeInfo>> select_postoffices(const std::optional<std::string>& name) {
    auto stmt = db_.prepare(
        "SELECT p.name, p.enabled, p.created_at, (SELECT COUNT(*) FROM mailboxes m WHERE m.postoffice_id = p.id), " +
        settings_column(db_.dialect(), "postoffice_settings", "ps", "postoffice_id", "p.id") +
        " FROM postoffices p WHERE CAST(?1 AS TEXT) IS NULL OR p.name = ?1 ORDER BY p.name");
    if (!stmt) return stmt.error();
    if (name) stmt->bind(1, *name);
    std::vector<PostofficeInfo> out;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(PostofficeInfo{stmt->column_text(0), stmt->column_bool(1), stmt->column_int(3),
                                   stmt->column_int(2), settings_from_column(stmt->column_text(4))});
    }
    return out;
  }

  Result<std::vector<ServiceRecord>> select_services(const std::optional<std::string>& name) {
    auto stmt = db_.prepare("SELECT name, module, enabled FROM services WHERE CAST(?1 AS TEXT) IS NULL OR name = ?1 ORDER BY name");
    if (!stmt) return stmt.error();
    if (name) stmt->bind(1, *name);
    std::vector<ServiceRecord> out;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(ServiceRecord{stmt->column_text(0), stmt->column_text(1), stmt->column_bool(2), {}});
    }
    auto settings = db_.prepare(
        "SELECT service, key, value FROM service_settings WHERE CAST(?1 AS TEXT) IS NULL OR service = ?1 ORDER BY service, key");
    if (!settings) return settings.error();
    if (name) settings->bind(1, *name);
    while (true) {
      auto row = settings->step();
      if (!row) return row.error();
      if (!*row) break;
      std::string service = settings->column_text(0);
      for (auto& rec : out) {
        if (rec.name == service) rec.settings[settings->column_text(1)] = settings->column_text(2);
      }
    }
    return out;
  }

  std::mutex mu_;
  Db db_;
  const std::string data_dir_;
  const std::string key_path_;
  std::optional<SecretBox> box_;  // guarded by mu_
  const std::string select_mailbox_;  // the SELECT of MailboxRow's columns in db_'s dialect
};

}  // namespace

std::string mail_root(const std::string& data_dir) { return (std::filesystem::path(data_dir) / "mail").string(); }

std::string default_maildir(const std::string& data_dir, const Address& address) {
  return (std::filesystem::path(mail_root(data_dir)) / address.postoffice / address.mailbox / "Maildir").string();
}

std::unique_ptr<AccountAndProvisioningStore> make_sql_account_store(sql::Db db, const std::string& data_dir) {
  return std::make_unique<SqlAccountStore>(std::move(db), data_dir);
}

}  // namespace mailroom::storage
