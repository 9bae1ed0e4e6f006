// One POP3 session per mailbox across the nodes that share one database (RFC 1939's exclusive
// lock, cluster-wide): a row of mailbox_leases names the node that holds a mailbox and until
// when. The in-process lock (storage/maildir/maildrop.h) still decides between the sessions of
// one daemon; this lease decides between daemons. Times are unix seconds given by the caller, so
// the tests inject the clock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/base/result.h"
#include "storage/sql/sql_db.h"

namespace mailroom::storage {

class SessionLeases {
 public:
  virtual ~SessionLeases() = default;
  // The node id the rows carry.
  virtual const std::string& node() const = 0;
  // One statement: takes the mailbox's lease until now + ttl when no row exists or the row's
  // lease has expired (another node's included). true: this node holds it; false: another
  // node's lease is still running. A database error is an error, never a lease.
  virtual Result<bool> acquire(int64_t mailbox_id, int64_t now, int64_t ttl) = 0;
  // Deletes the mailbox's row if this node holds it (another node's row is left alone).
  virtual Status release(int64_t mailbox_id) = 0;
  // One statement: every lease this node holds runs until now + ttl. The number of rows.
  virtual Result<int64_t> renew(int64_t now, int64_t ttl) = 0;
};

// The leases over `db` (migrated: schema step 7), serialised on one connection by a mutex.
std::unique_ptr<SessionLeases> make_sql_session_leases(sql::Db db, std::string node);

// A node id unique among the nodes and stable for this process: host name, pid, start time and
// a random token.
std::string make_node_id();

}  // namespace mailroom::storage
