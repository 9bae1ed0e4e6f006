// The PostgreSQL back end: connecting and re-connecting, statements, error mapping.
#include "storage/postgres/pg_db.h"

#include <cctype>
#include <cstdlib>
#include <optional>
#include <vector>

namespace mailroom::storage::postgres {
namespace {

constexpr unsigned int kInt8Oid = 20;  // pg_type: int8
constexpr unsigned int kTextOid = 25;  // pg_type: text

class PgStatement final : public sql::StatementImpl {
 public:
  PgStatement(PgConnection& conn, std::string sql, int count)
      : conn_(conn), sql_(std::move(sql)), values_(static_cast<size_t>(count)), types_(static_cast<size_t>(count), 0) {}

  void bind_int(int index, int64_t value) override { set(index, std::to_string(value), kInt8Oid); }
  void bind_text(int index, std::string_view value) override {
    // Text parameters travel as C strings: a NUL byte would cut the value short.
    if (value.find('\0') != std::string_view::npos && !bind_error_) {
      bind_error_ = make_error(ErrorCode::kInvalidArgument, "database error: a text value contains a NUL byte");
    }
    set(index, std::string(value), kTextOid);
  }

  Result<bool> step() override {
    if (bind_error_) return *bind_error_;
    if (!result_) {
      std::vector<const char*> values;
      values.reserve(values_.size());
      for (const auto& v : values_) values.push_back(v ? v->c_str() : nullptr);
      auto result = conn_.execute(sql_, static_cast<int>(values.size()), types_.data(), values.data());
      if (!result) return result.error();
      result_ = std::move(*result);
      row_ = -1;
    }
    if (row_ < PQntuples(result_.get())) ++row_;
    return row_ < PQntuples(result_.get());
  }

  void reset() override {
    result_.reset();
    for (auto& v : values_) v.reset();
    std::fill(types_.begin(), types_.end(), 0u);
    bind_error_.reset();
  }

  int64_t column_int(int index) const override {
    return std::strtoll(PQgetvalue(result_.get(), row_, index), nullptr, 10);
  }
  std::string column_text(int index) const override {
    return std::string(PQgetvalue(result_.get(), row_, index),
                       static_cast<size_t>(PQgetlength(result_.get(), row_, index)));
  }
  bool column_is_null(int index) const override { return PQgetisnull(result_.get(), row_, index) != 0; }
  int column_count() const override { return result_ ? PQnfields(result_.get()) : 0; }

 private:
  void set(int index, std::string value, unsigned int type) {
    if (index < 1 || static_cast<size_t>(index) > values_.size()) {
      if (!bind_error_) {
        bind_error_ = make_error(ErrorCode::kInternal, "database error: no parameter " + std::to_string(index) +
                                                           " in " + sql_);
      }
      return;
    }
    values_[static_cast<size_t>(index - 1)] = std::move(value);
    types_[static_cast<size_t>(index - 1)] = type;
  }

  PgConnection& conn_;
  const std::string sql_;
  std::vector<std::optional<std::string>> values_;
  std::vector<unsigned int> types_;
  std::optional<Error> bind_error_;
  PgResult result_;
  int row_ = -1;
};

std::string first_line(const char* text) {
  std::string s = text ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

// PQconnectdbParams with the URL expanded; what the URL sets wins over these defaults. TCP
// keepalives find a peer that vanished without a word (about 60 s) instead of a call hanging.
PgConn connect_with_defaults(const std::string& url) {
  const char* keywords[] = {"connect_timeout", "keepalives_idle", "keepalives_interval", "keepalives_count",
                            "fallback_application_name", "dbname", nullptr};
  const char* values[] = {PgConnection::kConnectTimeoutSeconds, "30", "10", "3", "mailroom", url.c_str(), nullptr};
  PgConn conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
  // Notices (e.g. "relation already exists, skipping") are not errors: not printed.
  if (conn) PQsetNoticeProcessor(conn.get(), [](void*, const char*) {}, nullptr);
  return conn;
}

std::string to_dollar_placeholders(std::string_view sql, int* highest) {
  std::string out;
  out.reserve(sql.size());
  *highest = 0;
  bool quoted = false;
  for (size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '\'') quoted = !quoted;  // '' inside a literal toggles twice: still right
    if (!quoted && c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
      int n = 0;
      out += '$';
      while (i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9') {
        n = n * 10 + (sql[i + 1] - '0');
        out += sql[++i];
      }
      if (n > *highest) *highest = n;
      continue;
    }
    out += c;
  }
  return out;
}

ErrorCode error_code_for_sqlstate(std::string_view sqlstate) {
  if (sqlstate.substr(0, 2) == "08") return ErrorCode::kTemporary;
  for (std::string_view retry : {"57P01", "57P02", "57P03", "40001", "40P01", "53300"}) {
    if (sqlstate == retry) return ErrorCode::kTemporary;
  }
  return ErrorCode::kDatabase;
}

std::string masked_url(const std::string& url) {
  std::string out = url;
  // postgresql://user:password@host...: the password ends at the last '@' before the path.
  if (auto scheme = out.find("://"); scheme != std::string::npos) {
    const size_t start = scheme + 3;
    const size_t path = out.find_first_of("/?", start);
    const size_t at = out.rfind('@', path == std::string::npos ? std::string::npos : path);
    if (at != std::string::npos && at >= start) {
      const size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // password=... as a URI parameter or a key=value word (quoted, with backslash escapes, or not).
  // By hand, not std::regex: GCC 12 warns inside <regex> under the sanitizers (maybe-uninitialized).
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  constexpr std::string_view kKey = "password";
  for (size_t pos = 0; pos + kKey.size() <= out.size();) {
    bool key = true;
    for (size_t i = 0; i < kKey.size() && key; ++i) {
      key = std::tolower(static_cast<unsigned char>(out[pos + i])) == kKey[i];
    }
    if (!key) {
      ++pos;
      continue;
    }
    size_t at = pos + kKey.size();
    while (at < out.size() && is_space(out[at])) ++at;
    if (at >= out.size() || out[at] != '=') {
      pos += kKey.size();
      continue;
    }
    ++at;
    while (at < out.size() && is_space(out[at])) ++at;
    size_t end = at;
    if (end < out.size() && out[end] == '\'') {
      for (++end; end < out.size() && out[end] != '\''; ++end) {
        if (out[end] == '\\' && end + 1 < out.size()) ++end;
      }
      if (end < out.size()) ++end;  // the closing quote
    } else {
      while (end < out.size() && out[end] != '&' && !is_space(out[end])) ++end;
    }
    out.replace(at, end - at, "***");
    pos = at + 3;
  }
  return out;
}

Result<std::unique_ptr<PgConnection>> PgConnection::open(const std::string& url) {
  auto conn = std::make_unique<PgConnection>(url);
  if (auto st = conn->ensure_connected(); !st) return st.error();
  return conn;
}

Status PgConnection::ensure_connected() {
  if (conn_ && !in_transaction_) {
    // A server that shut down closed the socket: reading what is pending finds that out
    // without blocking, so the call re-connects instead of failing once.
    (void)PQconsumeInput(conn_.get());
  }
  if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) return {};
  if (in_transaction_) {
    return make_error(ErrorCode::kTemporary, "database error: the connection to " + masked_url(url_) +
                                                 " was lost during a transaction");
  }
  conn_ = connect_with_defaults(url_);
  if (!conn_) return make_error(ErrorCode::kTemporary, "database error: out of memory connecting to the database");
  if (PQstatus(conn_.get()) != CONNECTION_OK) {
    std::string why = first_line(PQerrorMessage(conn_.get()));
    conn_.reset();
    return make_error(ErrorCode::kTemporary, "database error: cannot connect to " + masked_url(url_) + ": " + why);
  }
  return {};
}

Error PgConnection::error_from(const PGresult* result) const {
  const char* state = result ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  ErrorCode code = state ? error_code_for_sqlstate(state) : ErrorCode::kDatabase;
  std::string message = result ? first_line(PQresultErrorMessage(result)) : "";
  if (message.empty()) message = first_line(PQerrorMessage(conn_.get()));
  // No SQLSTATE and a broken connection: the server went away mid-call.
  if (!conn_ || PQstatus(conn_.get()) != CONNECTION_OK) {
    code = ErrorCode::kTemporary;
    message = "the connection to " + masked_url(url_) + " was lost (" + message + ")";
  }
  return make_error(code, "database error: " + message);
}

void PgConnection::note_changes(PGresult* result) {
  // Like sqlite3_changes(): only what INSERT, UPDATE and DELETE did (PQcmdTuples counts a
  // SELECT's rows too); the last such statement's count stays until the next one.
  const std::string_view command = PQcmdStatus(result);
  for (std::string_view dml : {"INSERT", "UPDATE", "DELETE", "MERGE"}) {
    if (command.substr(0, dml.size()) == dml) {
      const char* tuples = PQcmdTuples(result);
      changes_ = (tuples && *tuples) ? std::strtoll(tuples, nullptr, 10) : 0;
      return;
    }
  }
}

Result<PgResult> PgConnection::execute(const std::string& sql, int count, const unsigned int* types,
                                       const char* const* values) {
  if (auto st = ensure_connected(); !st) return st.error();
  PgResult result(PQexecParams(conn_.get(), sql.c_str(), count, types, values, nullptr, nullptr, 0));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error_from(result.get());
  note_changes(result.get());
  return result;
}

Result<std::unique_ptr<sql::StatementImpl>> PgConnection::prepare(std::string_view sql) {
  int count = 0;
  std::string text = to_dollar_placeholders(sql, &count);
  return std::unique_ptr<sql::StatementImpl>(std::make_unique<PgStatement>(*this, std::move(text), count));
}

Status PgConnection::exec(const std::string& sql) {
  if (auto st = ensure_connected(); !st) return st;
  PgResult result(PQexec(conn_.get(), sql.c_str()));
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) return error_from(result.get());
  note_changes(result.get());
  return {};
}

Status PgConnection::begin_write() {
  if (auto st = exec("BEGIN; SELECT pg_advisory_xact_lock(" + std::to_string(kWriteLockKey) + ")"); !st) {
    rollback();
    return st;
  }
  in_transaction_ = true;
  return {};
}

Status PgConnection::begin_read() {
  if (auto st = exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); !st) return st;
  in_transaction_ = true;
  return {};
}

Status PgConnection::commit() {
  // COMMIT ends the transaction whatever its outcome (a failed one is rolled back).
  auto st = exec("COMMIT");
  in_transaction_ = false;
  return st;
}

void PgConnection::rollback() {
  if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) {
    PgResult result(PQexec(conn_.get(), "ROLLBACK"));
  }
  in_transaction_ = false;
}

Result<int64_t> PgConnection::data_version() {
  auto result = execute("SELECT counter FROM data_version WHERE id = 1", 0, nullptr, nullptr);
  if (!result) return result.error();
  if (PQntuples(result->get()) != 1) return make_error(ErrorCode::kDatabase, "database error: no data_version row");
  return std::strtoll(PQgetvalue(result->get(), 0, 0), nullptr, 10);
}

sql::Db deferred_db(const std::string& url) { return sql::Db(std::make_unique<PgConnection>(url)); }

Result<sql::Db> open_db(const std::string& url) {
  auto conn = PgConnection::open(url);
  if (!conn) return conn.error();
  return sql::Db(std::move(*conn));
}

}  // namespace mailroom::storage::postgres
