// ChangeFeed: tells a daemon at once that another connection committed a change to the shared
// database, so a setting, an access rule or a block reaches every node within a second instead of
// at the next poll. PostgreSQL: LISTEN on kChangeChannel, which the data_version trigger notifies
// (storage/sql/migrations.cpp). SQLite has none: the daemon's poll reads PRAGMA data_version, a
// cheap local read, every second.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace mailroom::storage {

inline constexpr const char* kChangeChannel = "mailroom_changes";

class ChangeFeed {
 public:
  virtual ~ChangeFeed() = default;  // stops and joins the feed's thread
  // Whether the feed is LISTENing now (false while the database is unreachable: it reconnects).
  virtual bool connected() const = 0;
};

// For a PostgreSQL `database_url`: a thread that LISTENs and calls `changed` (on that thread) for
// every notification, and once after each (re)connection, since changes made while it was away
// were not notified. Connection failures are retried every second without end; `changed` must be
// cheap and thread-safe (post to a loop). nullptr for "" (SQLite).
std::unique_ptr<ChangeFeed> open_change_feed(const std::string& database_url, std::function<void()> changed);

}  // namespace mailroom::storage
