// LoginDelayTable: when each mailbox last logged in over POP3, for RFC 2449 LOGIN-DELAY. One per
// daemon (the pop3 module owns it), shared by every session, thread-safe (logins are checked on
// workers). In memory only: a daemon restart forgets it (a client then logs in at once once).
// Bounded: entries older than the largest delay ever asked for are dropped, so it holds at most
// the mailboxes that logged in within that delay.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace mailroom::pop3 {

class LoginDelayTable {
 public:
  // Seconds `key` must still wait before a login is allowed (0: allowed now), given its delay.
  int64_t wait_seconds(const std::string& key, int64_t now, int64_t delay) const;
  // A login of `key` succeeded at `now` (with this delay in force).
  void record(const std::string& key, int64_t now, int64_t delay);
  std::size_t size() const;

 private:
  void prune(int64_t now);  // mu_ held

  mutable std::mutex mu_;
  std::unordered_map<std::string, int64_t> last_;  // key -> time of its last login
  int64_t max_delay_ = 0;                          // the largest delay recorded so far
  std::size_t next_prune_ = 1024;                  // size that triggers the next sweep
};

}  // namespace mailroom::pop3
