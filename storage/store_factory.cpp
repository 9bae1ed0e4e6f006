// Choosing and opening the back end of the accounts, provisioning and policy stores.
#include "storage/store_factory.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "storage/backup.h"
#include "storage/postgres/pg_db.h"
#include "storage/secrets/private_file.h"
#include "storage/secrets/secret_box.h"
#include "storage/sql/migrations.h"
#include "storage/sql/sql_stores.h"
#include "storage/sqlite/sqlite_db.h"

namespace mailroom::storage {
namespace {

namespace fs = std::filesystem;

std::string trimmed(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

Status check_data_dir_name(const std::string& data_dir) {
  if (data_dir.empty()) return make_error(ErrorCode::kInvalidArgument, "the data directory is empty");
  return {};
}

// DATA_DIR/mailroom.db opened (created when `create`) and migrated.
Result<sql::Db> open_sqlite(const std::string& data_dir, bool create) {
  const fs::path path = fs::path(data_dir) / kDatabaseFileName;
  std::error_code ec;
  if (create) {
    fs::create_directories(data_dir, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create data directory " + data_dir + ": " + ec.message());
    // Password hashes live here: only the owner may read it. SQLite gives its -wal and -shm
    // files the database file's mode, so creating it 0600 first covers them too.
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) ::close(fd);
  } else if (!fs::exists(path, ec)) {
    return make_error(ErrorCode::kNotFound,
                      "no Mailroom data in " + data_dir + " (run 'mailctl --data " + data_dir + " init')");
  }
  auto db = sqlite::open_db(path.string(), create);
  if (!db) return db.error();
  if (auto st = sql::migrate(*db); !st) return st.error();
  return db;
}

Error other_key(const std::string& data_dir, const std::string& what) {
  return make_error(ErrorCode::kPermanent,
                    what + " is not the secrets key of this cluster's database: copy secrets.key from a node of this "
                           "cluster into " + data_dir);
}

// The fingerprint of DATA/secrets.key against the one recorded in cluster_meta (see the header).
Status check_cluster_key(sql::Db& db, const std::string& data_dir, bool create) {
  const std::string key_path = secret_key_path(data_dir);
  auto tx = sql::Transaction::begin(db);  // init on two nodes at once: one records, the other compares
  if (!tx) return tx.error();
  auto select = db.prepare("SELECT value FROM cluster_meta WHERE key = ?1");
  if (!select) return select.error();
  auto row = select->bind(1, kSecretsKeyFingerprintKey).step();
  if (!row) return row.error();
  const std::string recorded = *row ? select->column_text(0) : std::string();
  if (recorded.empty() && !create) return {};
  auto box = create ? SecretBox::load_or_create(key_path) : SecretBox::load(key_path);
  if (!box) {
    if (box.error().code == ErrorCode::kNotFound) return other_key(data_dir, "a missing " + key_path);
    return box.error();
  }
  const std::string fingerprint = box->fingerprint();
  if (!recorded.empty()) {
    if (recorded != fingerprint) return other_key(data_dir, key_path);
    return {};
  }
  auto insert = db.prepare("INSERT INTO cluster_meta (key, value) VALUES (?1, ?2)");
  if (!insert) return insert.error();
  if (auto st = insert->bind(1, kSecretsKeyFingerprintKey).bind(2, fingerprint).run(); !st) return st;
  return tx->commit();
}

// `count` connections to `url`: the first opened now, migrating the schema and checking the key;
// the others connect when first used (a short mailctl command needs one).
Result<std::vector<sql::Db>> open_postgres(const std::string& data_dir, const std::string& url, bool create,
                                           int count) {
  if (create) {
    std::error_code ec;
    fs::create_directories(data_dir, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot create data directory " + data_dir + ": " + ec.message());
  }
  auto first = postgres::open_db(url);
  if (!first) return first.error();
  if (auto st = sql::migrate(*first); !st) return st.error();
  if (auto st = check_cluster_key(*first, data_dir, create); !st) return st.error();
  std::vector<sql::Db> out;
  out.push_back(std::move(*first));
  for (int i = 1; i < count; ++i) out.push_back(postgres::deferred_db(url));
  return out;
}

struct Opened {
  std::vector<sql::Db> dbs;  // one for SQLite, kPostgresPoolConnections for PostgreSQL
};

Result<Opened> open_dbs(const std::string& data_dir, bool create, const std::string& given_url) {
  if (auto st = check_data_dir_name(data_dir); !st) return st.error();
  auto url = resolve_database_url(data_dir, given_url);
  if (!url) return url.error();
  Opened opened;
  if (url->empty()) {
    auto db = open_sqlite(data_dir, create);
    if (!db) return db.error();
    opened.dbs.push_back(std::move(*db));
    return opened;
  }
  if (auto st = check_database_url(*url); !st) return st.error();
  auto dbs = open_postgres(data_dir, *url, create, kPostgresPoolConnections);
  if (!dbs) return dbs.error();
  opened.dbs = std::move(*dbs);
  return opened;
}

std::unique_ptr<AccountAndProvisioningStore> account_store_over(std::vector<sql::Db> dbs, const std::string& data_dir) {
  if (dbs.size() == 1) return make_sql_account_store(std::move(dbs.front()), data_dir);
  std::vector<std::unique_ptr<AccountAndProvisioningStore>> members;
  for (auto& db : dbs) members.push_back(make_sql_account_store(std::move(db), data_dir));
  return make_pooled_account_store(std::move(members));
}

}  // namespace

Result<std::string> resolve_database_url(const std::string& data_dir, const std::string& given) {
  if (!given.empty()) return given;
  const fs::path path = fs::path(data_dir) / kDatabaseUrlFileName;
  std::ifstream in(path);
  if (!in) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::string();
    return make_error(ErrorCode::kIo, "cannot read " + path.string());
  }
  std::stringstream text;
  text << in.rdbuf();
  std::string url = trimmed(text.str());
  if (url.empty()) return make_error(ErrorCode::kInvalidArgument, path.string() + " is empty (it should hold the database URL)");
  return url;
}

Status check_database_url(const std::string& url) {
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) return {};
  if (url.find("://") == std::string::npos && url.find('=') != std::string::npos) return {};  // key=value words
  return make_error(ErrorCode::kInvalidArgument,
                    "unsupported database URL " + printable_database_url(url) +
                        " (use postgresql://USER@HOST/DB, postgresql:///DB?host=/SOCKET/DIR or libpq words "
                        "'host=... dbname=...'; without --database the data directory's SQLite database is used)");
}

Status record_database_url(const std::string& data_dir, const std::string& url) {
  if (auto st = check_database_url(url); !st) return st;
  return write_file_atomically((fs::path(data_dir) / kDatabaseUrlFileName).string(), url + "\n", 0600);
}

std::string printable_database_url(const std::string& url) { return postgres::masked_url(url); }

Result<sql::Db> open_database_as_is(const std::string& data_dir, const std::string& url) {
  if (auto st = check_data_dir_name(data_dir); !st) return st.error();
  if (!url.empty()) {
    if (auto st = check_database_url(url); !st) return st.error();
    return postgres::open_db(url);
  }
  const fs::path path = fs::path(data_dir) / kDatabaseFileName;
  std::error_code ec;
  if (!fs::exists(path, ec)) {
    return make_error(ErrorCode::kNotFound,
                      "no Mailroom data in " + data_dir + " (run 'mailctl --data " + data_dir + " init')");
  }
  return sqlite::open_db(path.string(), /*create=*/false);
}

Result<sql::Db> open_migrated_database(const std::string& data_dir, const std::string& url) {
  if (auto st = check_data_dir_name(data_dir); !st) return st.error();
  if (url.empty()) return open_sqlite(data_dir, /*create=*/true);
  if (auto st = check_database_url(url); !st) return st.error();
  auto db = postgres::open_db(url);
  if (!db) return db.error();
  if (auto st = sql::migrate(*db); !st) return st.error();
  return db;
}

Status record_secrets_key(sql::Db& db, const std::string& data_dir) {
  return check_cluster_key(db, data_dir, /*create=*/true);
}

Result<std::unique_ptr<AccountStore>> open_account_store(const std::string& data_dir, bool create,
                                                         const std::string& database_url) {
  auto opened = open_dbs(data_dir, create, database_url);
  if (!opened) return opened.error();
  return std::unique_ptr<AccountStore>(account_store_over(std::move(opened->dbs), data_dir));
}

Result<std::unique_ptr<ProvisioningStore>> open_provisioning_store(const std::string& data_dir,
                                                                   const std::string& database_url) {
  auto opened = open_dbs(data_dir, /*create=*/false, database_url);
  if (!opened) return opened.error();
  return std::unique_ptr<ProvisioningStore>(account_store_over(std::move(opened->dbs), data_dir));
}

Result<std::unique_ptr<PolicyStore>> open_policy_store(const std::string& data_dir, const std::string& database_url) {
  auto opened = open_dbs(data_dir, /*create=*/false, database_url);
  if (!opened) return opened.error();
  if (opened->dbs.size() == 1) return make_sql_policy_store(std::move(opened->dbs.front()));
  std::vector<std::unique_ptr<PolicyStore>> members;
  for (auto& db : opened->dbs) members.push_back(make_sql_policy_store(std::move(db)));
  return make_pooled_policy_store(std::move(members));
}

Result<std::unique_ptr<SessionLeases>> open_session_leases(const std::string& data_dir,
                                                           const std::string& database_url) {
  auto url = resolve_database_url(data_dir, database_url);
  if (!url) return url.error();
  if (url->empty()) return std::unique_ptr<SessionLeases>();
  if (auto st = check_database_url(*url); !st) return st.error();
  auto db = postgres::open_db(*url);
  if (!db) return db.error();
  if (auto st = sql::migrate(*db); !st) return st.error();
  return make_sql_session_leases(std::move(*db), make_node_id());
}

}  // namespace mailroom::storage
