// The whole-database copy and its verification (see database_copy.h).
#include "storage/sql/database_copy.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <memory>

#include "storage/sql/migrations.h"

namespace mailroom::storage::sql {
namespace {

enum class Kind { kInt, kText };

struct Column {
  const char* name;
  Kind kind;
};

// A table of the schema: its columns, the columns of its key (the order rows are read and
// hashed in) and whether `id` is an identity column.
struct TableSpec {
  const char* name;
  std::vector<Column> columns;
  std::vector<const char*> key;
  bool identity;
};

// Every table of migrations.cpp's schema, parents before children. A new migration step that adds
// a table or a column must add it here: check_copyable() refuses a database with one it lacks.
const std::vector<TableSpec>& table_specs() {
  static const std::vector<TableSpec> specs = {
      {"postoffices",
       {{"id", Kind::kInt}, {"name", Kind::kText}, {"enabled", Kind::kInt}, {"created_at", Kind::kInt}},
       {"id"},
       true},
      {"mailboxes",
       {{"id", Kind::kInt},
        {"postoffice_id", Kind::kInt},
        {"name", Kind::kText},
        {"enabled", Kind::kInt},
        {"password_hash", Kind::kText},
        {"password_scheme", Kind::kText},
        {"maildir", Kind::kText},
        {"created_at", Kind::kInt}},
       {"id"},
       true},
      {"mailbox_secrets",
       {{"mailbox_id", Kind::kInt}, {"kind", Kind::kText}, {"value", Kind::kText}},
       {"mailbox_id", "kind"},
       false},
      {"postoffice_settings",
       {{"postoffice_id", Kind::kInt}, {"key", Kind::kText}, {"value", Kind::kText}},
       {"postoffice_id", "key"},
       false},
      {"mailbox_settings",
       {{"mailbox_id", Kind::kInt}, {"key", Kind::kText}, {"value", Kind::kText}},
       {"mailbox_id", "key"},
       false},
      {"services", {{"name", Kind::kText}, {"module", Kind::kText}, {"enabled", Kind::kInt}}, {"name"}, false},
      {"service_settings",
       {{"service", Kind::kText}, {"key", Kind::kText}, {"value", Kind::kText}},
       {"service", "key"},
       false},
      {"access_rules",
       {{"id", Kind::kInt},
        {"service", Kind::kText},
        {"list", Kind::kText},
        {"rule", Kind::kText},
        {"comment", Kind::kText},
        {"created_at", Kind::kInt},
        {"hits", Kind::kInt},
        {"last_hit", Kind::kInt}},
       {"id"},
       true},
      {"blocks",
       {{"service", Kind::kText},
        {"network", Kind::kText},
        {"cause", Kind::kText},
        {"reason", Kind::kText},
        {"since", Kind::kInt},
        {"expires", Kind::kInt},
        {"until_restart", Kind::kInt},
        {"hits", Kind::kInt},
        {"last_hit", Kind::kInt}},
       {"service", "network"},
       false},
      {"policy_meta", {{"id", Kind::kInt}, {"generation", Kind::kInt}}, {"id"}, false},
      {"daemon_settings", {{"key", Kind::kText}, {"value", Kind::kText}}, {"key"}, false},
      {"cluster_meta", {{"key", Kind::kText}, {"value", Kind::kText}}, {"key"}, false},
      // Copied as they are: with the daemons stopped (as the copy requires) rows can only be leases
      // of dead sessions, which expire on their own; SQLite keeps none.
      {"mailbox_leases",
       {{"mailbox_id", Kind::kInt}, {"node", Kind::kText}, {"expires_at", Kind::kInt}},
       {"mailbox_id"},
       false},
  };
  return specs;
}

const TableSpec* find_spec(const std::string& table) {
  for (const auto& spec : table_specs()) {
    if (table == spec.name) return &spec;
  }
  return nullptr;
}

Kind kind_of(const TableSpec& spec, const char* column) {
  for (const auto& c : spec.columns) {
    if (std::string_view(c.name) == column) return c.kind;
  }
  return Kind::kInt;
}

// SELECT of every column in key order. Text keys compare as bytes on both back ends (SQLite's
// BINARY collation; PostgreSQL's "C"), so both sides list the rows in the same order.
std::string select_sql(Dialect dialect, const TableSpec& spec) {
  std::string sql = "SELECT ";
  for (size_t i = 0; i < spec.columns.size(); ++i) sql += (i ? ", " : "") + std::string(spec.columns[i].name);
  sql += " FROM " + std::string(spec.name) + " ORDER BY ";
  for (size_t i = 0; i < spec.key.size(); ++i) {
    sql += (i ? ", " : "") + std::string(spec.key[i]);
    if (dialect == Dialect::kPostgres && kind_of(spec, spec.key[i]) == Kind::kText) sql += " COLLATE \"C\"";
  }
  return sql;
}

std::string insert_sql(const TableSpec& spec) {
  std::string names, params;
  for (size_t i = 0; i < spec.columns.size(); ++i) {
    names += (i ? ", " : "") + std::string(spec.columns[i].name);
    params += (i ? ", ?" : "?") + std::to_string(i + 1);
  }
  return "INSERT INTO " + std::string(spec.name) + " (" + names + ") VALUES (" + params + ")";
}

// The tables `db` holds, bookkeeping of the back end left out.
Result<std::vector<std::string>> tables_of(Db& db) {
  const char* sql = db.dialect() == Dialect::kPostgres
                        ? "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                          "AND tablename NOT IN ('schema_version', 'data_version')"
                        : "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'";
  auto stmt = db.prepare(sql);
  if (!stmt) return stmt.error();
  std::vector<std::string> out;
  while (true) {
    auto row = stmt->step();
    if (!row) return row.error();
    if (!*row) break;
    out.push_back(stmt->column_text(0));
  }
  std::sort(out.begin(), out.end());
  return out;
}

Result<int64_t> column_count(Db& db, const std::string& table) {
  if (db.dialect() == Dialect::kPostgres) {
    auto stmt = db.prepare(
        "SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?1");
    if (!stmt) return stmt.error();
    auto row = stmt->bind(1, table).step();
    if (!row) return row.error();
    return *row ? stmt->column_int(0) : 0;
  }
  return db.query_int("SELECT COUNT(*) FROM pragma_table_info('" + table + "')");
}

struct DigestFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// SHA-256 over a table's rows as Mailroom reads them: each value as a tag (N: NULL, I: integer,
// T: text), integers as 8 bytes big-endian, text with its 8-byte length first.
class RowHasher {
 public:
  RowHasher() : ctx_(EVP_MD_CTX_new()) {
    ok_ = ctx_ && EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) == 1;
  }
  void add(const Statement& row, const TableSpec& spec) {
    for (size_t i = 0; i < spec.columns.size(); ++i) {
      const int index = static_cast<int>(i);
      if (row.column_is_null(index)) {
        update("N", 1);
      } else if (spec.columns[i].kind == Kind::kInt) {
        update("I", 1);
        add_number(row.column_int(index));
      } else {
        const std::string text = row.column_text(index);
        update("T", 1);
        add_number(static_cast<int64_t>(text.size()));
        update(text.data(), text.size());
      }
    }
  }
  Result<std::string> hex() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int size = 0;
    if (!ok_ || EVP_DigestFinal_ex(ctx_.get(), digest.data(), &size) != 1) {
      return make_error(ErrorCode::kInternal, "SHA-256 failed in OpenSSL");
    }
    static const char* kHex = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out += kHex[digest[i] >> 4];
      out += kHex[digest[i] & 15];
    }
    return out;
  }

 private:
  void add_number(int64_t value) {
    std::array<unsigned char, 8> bytes{};
    auto u = static_cast<uint64_t>(value);
    for (int i = 7; i >= 0; --i, u >>= 8) bytes[static_cast<size_t>(i)] = static_cast<unsigned char>(u & 0xff);
    update(bytes.data(), bytes.size());
  }
  void update(const void* data, size_t size) {
    if (ok_ && EVP_DigestUpdate(ctx_.get(), data, size) != 1) ok_ = false;
  }
  std::unique_ptr<EVP_MD_CTX, DigestFree> ctx_;
  bool ok_ = false;
};

Error in_table(const Error& error, const char* table, const char* what) {
  return make_error(error.code, std::string(what) + " table " + table + ": " + error.message);
}

}  // namespace

std::vector<std::string> copied_tables() {
  std::vector<std::string> out;
  for (const auto& spec : table_specs()) out.emplace_back(spec.name);
  return out;
}

Status check_copyable(Db& db, const std::string& what) {
  auto tables = tables_of(db);
  if (!tables) return tables.error();
  if (!std::binary_search(tables->begin(), tables->end(), std::string("postoffices"))) {
    return make_error(ErrorCode::kNotFound, what + " holds no Mailroom schema (run mailroomd or 'mailctl init' on it once)");
  }
  auto version = stored_schema_version(db);
  if (!version) return version.error();
  if (*version < schema_version()) {
    return make_error(ErrorCode::kInvalidArgument,
                      what + " has schema version " + std::to_string(*version) + ", older than this build's (" +
                          std::to_string(schema_version()) +
                          "): run mailroomd or 'mailctl init' on it once with this build to bring it up to date");
  }
  if (*version > schema_version()) {
    return make_error(ErrorCode::kInvalidArgument,
                      what + " has schema version " + std::to_string(*version) + ", newer than this build's (" +
                          std::to_string(schema_version()) + "): upgrade Mailroom first");
  }
  // Other tables (another application's, in a shared PostgreSQL schema) are not Mailroom's.
  for (const auto& spec : table_specs()) {
    if (!std::binary_search(tables->begin(), tables->end(), std::string(spec.name))) {
      return make_error(ErrorCode::kInvalidArgument, what + " lacks the table " + spec.name + " of this build's schema");
    }
    auto columns = column_count(db, spec.name);
    if (!columns) return columns.error();
    if (*columns != static_cast<int64_t>(spec.columns.size())) {
      return make_error(ErrorCode::kInvalidArgument,
                        what + ": table " + spec.name + " has " + std::to_string(*columns) +
                            " columns, this build copies " + std::to_string(spec.columns.size()));
    }
  }
  return {};
}

Result<int64_t> rows_held(Db& db) {
  int64_t total = 0;
  for (const auto& spec : table_specs()) {
    if (std::string_view(spec.name) == "policy_meta") continue;
    auto rows = db.query_int("SELECT COUNT(*) FROM " + std::string(spec.name));
    if (!rows) return rows.error();
    total += *rows;
  }
  return total;
}

Status copy_database(Db& source, Db& target) {
  auto read = Transaction::begin_read(source);
  if (!read) return read.error();
  auto write = Transaction::begin(target);
  if (!write) return write.error();
  const auto& specs = table_specs();
  for (auto it = specs.rbegin(); it != specs.rend(); ++it) {
    if (auto st = target.exec("DELETE FROM " + std::string(it->name)); !st) return in_table(st.error(), it->name, "emptying");
  }
  for (const auto& spec : specs) {
    auto select = source.prepare(select_sql(source.dialect(), spec));
    if (!select) return in_table(select.error(), spec.name, "reading");
    auto insert = target.prepare(insert_sql(spec));
    if (!insert) return in_table(insert.error(), spec.name, "writing");
    while (true) {
      auto row = select->step();
      if (!row) return in_table(row.error(), spec.name, "reading");
      if (!*row) break;
      insert->reset();
      for (size_t i = 0; i < spec.columns.size(); ++i) {
        const int index = static_cast<int>(i);
        if (select->column_is_null(index)) continue;  // unbound: NULL
        if (spec.columns[i].kind == Kind::kInt) {
          insert->bind(index + 1, select->column_int(index));
        } else {
          insert->bind(index + 1, select->column_text(index));
        }
      }
      if (auto st = insert->run(); !st) return in_table(st.error(), spec.name, "writing");
    }
    if (spec.identity && target.dialect() == Dialect::kPostgres) {
      const std::string name = spec.name;
      if (auto st = target.exec("SELECT setval(pg_get_serial_sequence('" + name + "', 'id'), COALESCE(MAX(id), 0) + 1, "
                                "false) FROM " + name);
          !st) {
        return in_table(st.error(), spec.name, "moving the id sequence of");
      }
    }
  }
  return write->commit();
}

Result<TableDigest> digest_table(Db& db, const std::string& table) {
  const TableSpec* spec = find_spec(table);
  if (spec == nullptr) return make_error(ErrorCode::kInvalidArgument, "no copied table " + table);
  auto select = db.prepare(select_sql(db.dialect(), *spec));
  if (!select) return select.error();
  RowHasher hasher;
  TableDigest out;
  while (true) {
    auto row = select->step();
    if (!row) return row.error();
    if (!*row) break;
    hasher.add(*select, *spec);
    ++out.rows;
  }
  auto hex = hasher.hex();
  if (!hex) return hex.error();
  out.sha256 = std::move(*hex);
  return out;
}

Result<std::vector<TableCheck>> verify_copy(Db& source, Db& target) {
  auto source_read = Transaction::begin_read(source);
  if (!source_read) return source_read.error();
  auto target_read = Transaction::begin_read(target);
  if (!target_read) return target_read.error();
  std::vector<TableCheck> out;
  for (const auto& spec : table_specs()) {
    auto left = digest_table(source, spec.name);
    if (!left) return in_table(left.error(), spec.name, "hashing the source's");
    auto right = digest_table(target, spec.name);
    if (!right) return in_table(right.error(), spec.name, "hashing the target's");
    out.push_back({spec.name, left->rows, right->rows, left->sha256, right->sha256});
  }
  return out;
}

}  // namespace mailroom::storage::sql
