// Routing of events to the daemon's or a service's sink.
#include "core/log/log_router.h"

#include <algorithm>

namespace mailroom::log {

LogRouter::LogRouter(std::size_t max_queued_bytes) : writer_(max_queued_bytes) {
  daemon_.sink = make_sink("stderr");
}

LogRouter::~LogRouter() { writer_.stop(); }

std::shared_ptr<Sink> LogRouter::sink_for_locked(const std::string& target) {
  if (auto it = sinks_.find(target); it != sinks_.end()) {
    if (auto sink = it->second.lock()) return sink;
  }
  auto sink = make_sink(target);
  if (sink) sinks_[target] = sink;
  std::erase_if(sinks_, [](const auto& entry) { return entry.second.expired(); });
  return sink;
}

void LogRouter::update_min_level_locked() {
  Level least = daemon_level_;
  for (const auto& [name, route] : services_) {
    if (route.level) least = std::min(least, *route.level);
  }
  min_level_.store(static_cast<int>(least), std::memory_order_relaxed);
}

void LogRouter::configure_daemon(const RouteSettings& settings) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto sink = sink_for_locked(settings.target)) daemon_.sink = std::move(sink);
  if (auto level = parse_level(settings.level)) daemon_level_ = *level;
  if (auto format = parse_format(settings.format)) daemon_format_ = *format;
  update_min_level_locked();
}

void LogRouter::configure_service(const std::string& service, const RouteSettings& settings) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (settings == RouteSettings{}) {
    services_.erase(service);
  } else {
    Route route;
    if (!settings.target.empty()) route.sink = sink_for_locked(settings.target);
    route.level = parse_level(settings.level);
    route.format = parse_format(settings.format);
    services_[service] = std::move(route);
  }
  update_min_level_locked();
}

void LogRouter::forget_service(std::string_view service) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto it = services_.find(service); it != services_.end()) services_.erase(it);
  update_min_level_locked();
}

void LogRouter::emit(Level level, std::string_view event, std::span<const Field> fields) {
  std::string_view service;
  for (const auto& [key, value] : fields) {
    if (key == "service") {
      service = value;
      break;
    }
  }
  std::shared_ptr<Sink> sink;
  Level least;
  Format format;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sink = daemon_.sink;
    least = daemon_level_;
    format = daemon_format_;
    if (!service.empty()) {
      if (auto it = services_.find(service); it != services_.end()) {
        if (it->second.sink) sink = it->second.sink;
        least = it->second.level.value_or(least);
        format = it->second.format.value_or(format);
      }
    }
  }
  if (level < least || !sink) return;
  const auto now = std::chrono::system_clock::now();
  std::string line = format_line(format, {now, level, event, fields}, sink->wants_time());
  if (!sink->queued()) {
    sink->write(level, line);
    return;
  }
  writer_.submit(sink, level, std::move(line), [&](uint64_t count) {
    const Field notice[] = {{"count", std::to_string(count)}};
    return format_line(format, {now, Level::kWarn, "log.dropped", notice}, sink->wants_time());
  });
}

void LogRouter::reopen_files() {
  std::vector<std::shared_ptr<Sink>> live;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [target, weak] : sinks_) {
      if (!target.starts_with("file:")) continue;
      if (auto sink = weak.lock()) live.push_back(std::move(sink));
    }
  }
  for (const auto& sink : live) writer_.reopen(sink);
}

void LogRouter::flush() { writer_.flush(); }

LogRouter& router() {
  static LogRouter instance;
  return instance;
}

}  // namespace mailroom::log
