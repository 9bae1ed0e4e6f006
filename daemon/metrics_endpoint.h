// MetricsEndpoint: the daemon's HTTP listener for GET /metrics (the metrics_listen daemon
// setting; docs/metrics.md). Not a stored service: one TCP listener, at most kMaxScrapes
// connections at once, one request each (a head of at most 8 KiB that must arrive within
// kRequestTimeoutMs), answered with Connection: close. The text comes from `source` on the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/metrics/exposition.h"
#include "core/net/bind_spec.h"
#include "core/net/connection.h"
#include "core/net/listener.h"

namespace mailroom::daemon {

class MetricsEndpoint {
 public:
  using Source = std::function<std::vector<metrics::Family>()>;
  static constexpr std::size_t kMaxScrapes = 4;         // more at once are closed unanswered
  static constexpr uint64_t kRequestTimeoutMs = 10000;  // the whole request head

  MetricsEndpoint(core::EventLoop& loop, core::WorkQueue& work, Source source);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // The metrics_listen value: "off", "on" or ADDRESS:PORT (a host name is resolved on a worker).
  // A change closes the listener and opens the new one; scrapes under way finish.
  void apply(const std::string& setting);
  // Tries a failed bind again (call now and then).
  void retry_failed_bind();
  bool bind_failed() const { return !error_.empty(); }
  // Closes the listener and every scrape (shutdown).
  void stop();

  // For the status file: the address ("" when off), whether it listens, and why not.
  struct State {
    std::string bind;
    bool listening = false;
    std::string error;
  };
  State state() const;

 private:
  class ScrapeSession;
  void open(const net::BindSpec& spec);
  void on_accept(core::StreamHandle socket);
  std::string render(metrics::TextFormat format) const;

  core::EventLoop& loop_;
  core::WorkQueue& work_;
  Source source_;
  std::string setting_ = "off";
  std::optional<net::BindSpec> spec_;  // what metrics_listen names (resolved)
  std::unique_ptr<core::Listener> listener_;
  std::string error_;       // the last bind or resolution failure; empty when listening or off
  uint64_t generation_ = 0;  // apply() count: a resolution finished after a newer apply() is dropped
  core::ConnectionId next_id_ = 0;
  std::unordered_map<core::ConnectionId, std::unique_ptr<core::Connection>> scrapes_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace mailroom::daemon
