// AccountStore on SQLite: one connection serialised by a mutex; password hashing runs outside it.
#include <ctime>
#include <filesystem>
#include <mutex>
#include <system_error>

#include "storage/account_store.h"
#include "storage/password/password_hash.h"
#include "storage/sqlite/migrations.h"
#include "storage/sqlite/sqlite_db.h"

namespace mailroom::storage {
namespace {

namespace pw = password;
using sqlite::Db;
using sqlite::Statement;
using sqlite::Transaction;

constexpr const char* kDbFileName = "mailroom.db";

constexpr const char* kSelectMailbox =
    "SELECT m.id, m.name, p.name, m.enabled, p.enabled, m.maildir, m.password_scheme, m.created_at, "
    "m.password_hash FROM mailboxes m JOIN postoffices p ON p.id = m.postoffice_id ";

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
  return info;
}

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

class SqliteAccountStore final : public AccountStore {
 public:
  explicit SqliteAccountStore(Db db) : db_(std::move(db)) {}

  Status add_postoffice(const std::string& name) override {
    auto norm = normalize_postoffice_name(name);
    if (!norm) return norm.error();
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto id = find_postoffice_id(*norm);
    if (!id) return id.error();
    if (*id) return make_error(ErrorCode::kAlreadyExists, "postoffice " + in_quotes(*norm) + " already exists");
    auto stmt = db_.prepare("INSERT INTO postoffices (name, enabled, created_at) VALUES (?1, 1, ?2)");
    if (!stmt) return stmt.error();
    if (auto st = stmt->bind(1, *norm).bind(2, now_seconds()).run(); !st) return st;
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
    for (const char* sql : {"DELETE FROM mailboxes WHERE postoffice_id = ?1", "DELETE FROM postoffices WHERE id = ?1"}) {
      auto stmt = db_.prepare(sql);
      if (!stmt) return stmt.error();
      if (auto st = stmt->bind(1, **id).run(); !st) return st;
    }
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

  Result<MailboxInfo> add_mailbox(const Address& address, const std::string& password, PasswordKind kind,
                                  const std::string& maildir) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    if (maildir.empty() || maildir.front() != '/') {
      return make_error(ErrorCode::kInvalidArgument, "the maildir path must be absolute, got " + in_quotes(maildir));
    }
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
    auto stmt = db_.prepare(
        "INSERT INTO mailboxes (postoffice_id, name, enabled, password_hash, password_scheme, maildir, "
        "created_at) VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6)");
    if (!stmt) return stmt.error();
    stmt->bind(1, **po).bind(2, addr->mailbox).bind(3, hash->stored).bind(4, hash->scheme).bind(5, maildir);
    if (auto st = stmt->bind(6, now_seconds()).run(); !st) return st.error();
    auto created = select_mailbox(*addr);
    if (!created) return created.error();
    if (!*created) return make_error(ErrorCode::kInternal, "mailbox " + in_quotes(addr->str()) + " vanished after insert");
    if (auto st = tx->commit(); !st) return st.error();
    return std::move(**created).info;
  }

  Status remove_mailbox(const Address& address) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    return update_mailbox(*addr, "DELETE FROM mailboxes", std::nullopt, std::nullopt);
  }

  Status set_password(const Address& address, const std::string& password, PasswordKind kind) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    auto hash = prepare_password(password, kind);
    if (!hash) return hash.error();
    return update_mailbox(*addr, "UPDATE mailboxes SET password_hash = ?3, password_scheme = ?4", hash->stored,
                          hash->scheme);
  }

  Status set_mailbox_enabled(const Address& address, bool enabled) override {
    auto addr = normalize(address);
    if (!addr) return addr.error();
    return update_mailbox(*addr, enabled ? "UPDATE mailboxes SET enabled = 1" : "UPDATE mailboxes SET enabled = 0",
                          std::nullopt, std::nullopt);
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
    auto stmt = db_.prepare(std::string(kSelectMailbox) + "WHERE ?1 IS NULL OR p.name = ?1 ORDER BY p.name, m.name");
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
    auto stmt = db_.prepare("INSERT OR IGNORE INTO services (name, module, enabled) VALUES (?1, ?2, ?3)");
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

  Result<int64_t> data_version() override {
    std::lock_guard lock(mu_);
    return db_.query_int("PRAGMA data_version");
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
    auto stmt = db_.prepare(std::string(kSelectMailbox) + "WHERE p.name = ?1 AND m.name = ?2");
    if (!stmt) return stmt.error();
    auto row = stmt->bind(1, addr.postoffice).bind(2, addr.mailbox).step();
    if (!row) return row.error();
    if (!*row) return std::optional<MailboxRow>();
    return std::optional<MailboxRow>(MailboxRow{mailbox_from_row(*stmt), stmt->column_text(8)});
  }

  // Runs "`sql` WHERE <the mailbox>" in a transaction; kNotFound if no row matched.
  // ?3 and ?4 are bound to `arg3`/`arg4` when given.
  Status update_mailbox(const Address& addr, const std::string& sql, const std::optional<std::string>& arg3,
                        const std::optional<std::string>& arg4) {
    std::lock_guard lock(mu_);
    auto tx = Transaction::begin(db_);
    if (!tx) return tx.error();
    auto stmt = db_.prepare(sql + " WHERE name = ?2 AND postoffice_id = (SELECT id FROM postoffices WHERE name = ?1)");
    if (!stmt) return stmt.error();
    stmt->bind(1, addr.postoffice).bind(2, addr.mailbox);
    if (arg3) stmt->bind(3, *arg3);
    if (arg4) stmt->bind(4, *arg4);
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
        "SELECT p.name, p.enabled, p.created_at, (SELECT COUNT(*) FROM mailboxes m WHERE m.postoffice_id = p.id) "
        "FROM postoffices p WHERE ?1 IS NULL OR p.name = ?1 ORDER BY p.name");
    if (!stmt) return stmt.error();
    if (name) stmt->bind(1, *name);
    std::vector<PostofficeInfo> out;
    while (true) {
      auto row = stmt->step();
      if (!row) return row.error();
      if (!*row) break;
      out.push_back(PostofficeInfo{stmt->column_text(0), stmt->column_bool(1), stmt->column_int(3),
                                   stmt->column_int(2)});
    }
    return out;
  }

  Result<std::vector<ServiceRecord>> select_services(const std::optional<std::string>& name) {
    auto stmt = db_.prepare("SELECT name, module, enabled FROM services WHERE ?1 IS NULL OR name = ?1 ORDER BY name");
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
        "SELECT service, key, value FROM service_settings WHERE ?1 IS NULL OR service = ?1 ORDER BY service, key");
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
};

}  // namespace

Result<std::unique_ptr<AccountStore>> open_sqlite_account_store(const std::string& data_dir, bool create) {
  namespace fs = std::filesystem;
  if (data_dir.empty()) return make_error(ErrorCode::kInvalidArgument, "the data directory is empty");
  fs::path path = fs::path(data_dir) / kDbFileName;
  std::error_code ec;
  if (create) {
    fs::create_directories(data_dir, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create data directory " + data_dir + ": " + ec.message());
  } else if (!fs::exists(path, ec)) {
    return make_error(ErrorCode::kNotFound,
                      "no Mailroom data in " + data_dir + " (run 'mailctl --data " + data_dir + " init')");
  }
  auto db = Db::open(path.string(), create);
  if (!db) return db.error();
  if (auto st = sqlite::migrate(*db); !st) return st.error();
  return std::unique_ptr<AccountStore>(std::make_unique<SqliteAccountStore>(std::move(*db)));
}

}  // namespace mailroom::storage
