// LogRouter: decides where each event goes. The daemon's route (target, level, format) takes
// its own events and those of every service that sets nothing of its own; a service's route
// overrides any of the three (an empty value follows the daemon's). An event belongs to a
// service when it has a `service` field. Routes sharing a target share one sink (one file
// descriptor, lines in order). Thread-safe: events come from the loop and from worker threads.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "core/log/log_format.h"
#include "core/log/log_sink.h"
#include "core/log/log_writer.h"

namespace mailroom::log {

struct RouteSettings {
  std::string target;  // config::check_log_target; "" (services only): the daemon's
  std::string level;   // debug|info|warn|error; ""
  std::string format;  // kv|json; ""
  bool operator==(const RouteSettings&) const = default;
};

class LogRouter {
 public:
  explicit LogRouter(std::size_t max_queued_bytes = LogWriter::kDefaultMaxQueuedBytes);
  ~LogRouter();  // writes what is queued

  // The daemon's route (initially stderr, info, kv). Values are validated by the settings
  // catalog; an invalid one leaves that part as it was.
  void configure_daemon(const RouteSettings& settings);
  // A service's own route (empty values follow the daemon's); all empty: the daemon's route.
  void configure_service(const std::string& service, const RouteSettings& settings);
  void forget_service(std::string_view service);

  // Some route logs events of this level (cheap: lets callers skip building debug fields).
  bool enabled(Level level) const { return static_cast<int>(level) >= min_level_.load(std::memory_order_relaxed); }
  // Formats and writes (or queues) one event on its route.
  void emit(Level level, std::string_view event, std::span<const Field> fields);
  // Every file target is opened again (in order with queued lines): SIGHUP after log rotation.
  void reopen_files();
  // Returns once every queued line is written (shutdown); the writer keeps running.
  void flush();

  LogWriter& writer() { return writer_; }

 private:
  struct Route {
    std::shared_ptr<Sink> sink;  // null: the daemon's
    std::optional<Level> level;
    std::optional<Format> format;
  };
  std::shared_ptr<Sink> sink_for_locked(const std::string& target);
  void update_min_level_locked();

  mutable std::mutex mutex_;
  Route daemon_;
  Level daemon_level_ = Level::kInfo;
  Format daemon_format_ = Format::kKv;
  std::map<std::string, Route, std::less<>> services_;
  std::map<std::string, std::weak_ptr<Sink>> sinks_;  // by target: routes share them
  std::atomic<int> min_level_{static_cast<int>(Level::kInfo)};
  LogWriter writer_;
};

// The process's router, used by log::event().
LogRouter& router();

}  // namespace mailroom::log
