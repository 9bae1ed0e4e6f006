#include <openssl/rand.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <mutex>

#include "core/system/host_name.h"
#include "storage/lease/session_leases.h"

namespace mailroom::storage {
namespace {

// Inserts the row, or takes over one whose lease has expired; RETURNING gives a row only to the
// winner, so two nodes racing for one mailbox get one winner (PostgreSQL: the conflicting insert
// waits for the other's commit, then re-checks the WHERE on the row it finds).
constexpr const char* kAcquire =
    "INSERT INTO mailbox_leases (mailbox_id, node, expires_at) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (mailbox_id) DO UPDATE SET node = excluded.node, expires_at = excluded.expires_at "
    "WHERE mailbox_leases.expires_at < ?4 OR mailbox_leases.node = excluded.node "
    "RETURNING mailbox_id";
constexpr const char* kRelease = "DELETE FROM mailbox_leases WHERE mailbox_id = ?1 AND node = ?2";
constexpr const char* kRenew = "UPDATE mailbox_leases SET expires_at = ?1 WHERE node = ?2";

// Runs `statement` again once when it failed as temporary: a connection the server closed since
// the last call (a database restart) is only noticed by the call that uses it, and the back end
// opens a new one for the next. Each statement may run twice: taking one's own lease again,
// deleting a deleted row and renewing are the same done twice.
template <typename Fn>
auto twice(Fn statement) -> decltype(statement()) {
  auto result = statement();
  if (!result && result.error().code == ErrorCode::kTemporary) return statement();
  return result;
}

class SqlSessionLeases final : public SessionLeases {
 public:
  SqlSessionLeases(sql::Db db, std::string node) : db_(std::move(db)), node_(std::move(node)) {}

  const std::string& node() const override { return node_; }

  Result<bool> acquire(int64_t mailbox_id, int64_t now, int64_t ttl) override {
    std::lock_guard lock(mu_);
    return twice([&]() -> Result<bool> {
      auto stmt = db_.prepare(kAcquire);
      if (!stmt) return stmt.error();
      stmt->bind(1, mailbox_id).bind(2, node_).bind(3, now + ttl).bind(4, now);
      auto row = stmt->step();
      if (!row) return row.error();
      const bool won = *row;
      if (won) {  // finish the statement so the write is complete
        auto rest = stmt->step();
        if (!rest) return rest.error();
      }
      return won;
    });
  }

  Status release(int64_t mailbox_id) override {
    std::lock_guard lock(mu_);
    auto done = twice([&]() -> Result<bool> {
      auto stmt = db_.prepare(kRelease);
      if (!stmt) return stmt.error();
      if (auto st = stmt->bind(1, mailbox_id).bind(2, node_).run(); !st) return st.error();
      return true;
    });
    if (!done) return done.error();
    return {};
  }

  Result<int64_t> renew(int64_t now, int64_t ttl) override {
    std::lock_guard lock(mu_);
    return twice([&]() -> Result<int64_t> {
      auto stmt = db_.prepare(kRenew);
      if (!stmt) return stmt.error();
      if (auto st = stmt->bind(1, now + ttl).bind(2, node_).run(); !st) return st.error();
      return db_.changes();
    });
  }

 private:
  std::mutex mu_;
  sql::Db db_;
  const std::string node_;
};

}  // namespace

std::unique_ptr<SessionLeases> make_sql_session_leases(sql::Db db, std::string node) {
  return std::make_unique<SqlSessionLeases>(std::move(db), std::move(node));
}

std::string make_node_id() {
  // Without random bytes the pid and the start time in microseconds still tell this run apart.
  unsigned char random[6] = {};
  char token[sizeof random * 2 + 1] = {};
  if (RAND_bytes(random, sizeof random) == 1) {
    for (size_t i = 0; i < sizeof random; ++i) std::snprintf(token + 2 * i, 3, "%02x", random[i]);
  }
  const auto started =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  return core::system_host_name() + "/" + std::to_string(::getpid()) + "/" + std::to_string(started) +
         (token[0] != 0 ? "/" + std::string(token) : std::string());
}

}  // namespace mailroom::storage
