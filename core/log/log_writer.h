// LogWriter: one thread that writes queued log lines to their sinks (files, syslog), so the
// loop never waits for a disk or syslogd. The queue is bounded in bytes: when it is full a line
// is dropped and counted on its sink, and once there is room again a `log.dropped count=N` line
// goes to that sink before its next line. Started by the first line queued (after the daemon
// has taken its user and capabilities: see daemon/main.cpp); stopped and drained by its owner.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/log/log_sink.h"

namespace mailroom::log {

class LogWriter {
 public:
  // Lines waiting to be written, in bytes (docs/logging.md): about 20,000 typical lines, enough
  // for a burst while a disk stalls; past it lines are dropped rather than memory growing.
  static constexpr std::size_t kDefaultMaxQueuedBytes = 4 * 1024 * 1024;

  explicit LogWriter(std::size_t max_queued_bytes = kDefaultMaxQueuedBytes);
  // Writes what is queued, then ends the thread.
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Queues `line` for `sink`; false when the queue is full (the line is dropped and counted on
  // the sink). If lines of this sink were dropped before and there is room now for the notice
  // and the line, `dropped_notice(count)` is queued first. After stop(), writes at once.
  bool submit(const std::shared_ptr<Sink>& sink, Level level, std::string line,
              const std::function<std::string(uint64_t)>& dropped_notice);
  // Queues a reopen of `sink`, in order with the lines (those queued before go to the old file).
  void reopen(const std::shared_ptr<Sink>& sink);
  // Returns once every line queued so far has been written.
  void flush();
  // flush(), then ends the thread; later lines are written by the caller.
  void stop();

  std::size_t queued_bytes() const;

 private:
  struct Entry {
    std::shared_ptr<Sink> sink;
    Level level = Level::kInfo;
    std::string line;  // empty: reopen the sink
  };
  // Lines for one file joined into one write(), at most about this many bytes.
  static constexpr std::size_t kMaxJoinedBytes = 256 * 1024;
  void run();
  void start_locked();

  const std::size_t max_bytes_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;     // the writer: work or stop
  std::condition_variable drained_;  // flush(): the queue is empty and nothing is being written
  std::deque<Entry> queue_;
  std::size_t bytes_ = 0;
  bool writing_ = false;
  bool stopping_ = false;
  bool stopped_ = false;
  std::thread thread_;
};

}  // namespace mailroom::log
