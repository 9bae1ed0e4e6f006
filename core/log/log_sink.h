// Where log lines go: stderr, a file (`file:/path`) or the local syslog socket
// (`syslog[:FACILITY]`). Files and syslog are written by the log writer thread (log_writer.h),
// never by the loop; stderr is written by the caller (see docs/logging.md for why).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/log/log_format.h"

namespace mailroom::log {

class Sink {
 public:
  virtual ~Sink() = default;
  // Writes one line (ending with '\n'), or several if joins_lines(). Queued sinks: only ever
  // called by the writer thread.
  virtual void write(Level level, std::string_view line) = 0;
  // Files: the next write opens the path again (after logrotate renamed the file).
  virtual void reopen() {}
  // true: lines go through the writer thread's queue; false: the caller writes them.
  virtual bool queued() const { return true; }
  // false: kv lines are written without their time (syslog stamps its own).
  virtual bool wants_time() const { return true; }
  // true: write() may be given several lines at once (a file: one write() for a batch).
  virtual bool joins_lines() const { return false; }

  // Lines for this sink dropped because the queue was full, not yet reported (log.dropped).
  std::atomic<uint64_t> dropped{0};
};

// The sink of a target validated by config::check_log_target ("stderr", "file:/path",
// "syslog", "syslog:FACILITY"); null for an invalid one. Nothing is opened yet.
std::shared_ptr<Sink> make_sink(std::string_view target);

// Syslog: the local socket (default /dev/log; $MAILROOM_SYSLOG_SOCKET, for tests only, replaces
// it), the facility code of a name (mail = 2, local0 = 16, ...), and a message's longest form.
inline constexpr const char* kSyslogSocket = "/dev/log";
inline constexpr const char* kSyslogSocketEnv = "MAILROOM_SYSLOG_SOCKET";
inline constexpr std::size_t kMaxSyslogMessageBytes = 8192;  // longer lines are cut (rsyslog's default limit)
int syslog_facility_code(std::string_view name);  // -1: unknown
// RFC 3164 as syslog(3) sends it on the local socket: "<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG"
// (local time, no host name), PRI = facility * 8 + severity (error 3, warn 4, info 6, debug 7).
std::string syslog_datagram(int facility, Level level, std::string_view tag, long pid, std::string_view message);

}  // namespace mailroom::log
