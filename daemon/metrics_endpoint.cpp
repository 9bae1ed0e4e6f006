// The metrics endpoint: listener, scrape sessions, reopening on a setting change.
#include "daemon/metrics_endpoint.h"

#include "core/config/daemon_settings.h"
#include "core/log/logger.h"
#include "core/metrics/scrape_request.h"

namespace mailroom::daemon {

// One scrape: request head lines in, one response out, then close.
class MetricsEndpoint::ScrapeSession final : public core::ProtocolSession {
 public:
  ScrapeSession(core::Connection& connection, const MetricsEndpoint& endpoint)
      : conn_(connection), endpoint_(endpoint) {}

  void on_open() override {}
  void on_line(std::string_view line, core::LineEnding) override {
    if (parser_.add_line(line) == metrics::RequestHeadParser::State::kIncomplete) return;
    answer(metrics::respond(parser_, [this](metrics::TextFormat f) { return endpoint_.render(f); }));
  }
  void on_line_too_long() override {
    answer(metrics::http_response(431, "text/plain; charset=utf-8", "request head too large\n"));
  }
  std::string on_timeout(core::Timeout) override {
    return metrics::http_response(408, "text/plain; charset=utf-8", "request timeout\n");
  }

 private:
  void answer(std::string response) {
    log::debug("metrics.scrape", {{"ip", conn_.peer_ip()},
                                  {"status", response.substr(9, 3)},  // "HTTP/1.1 200 ..."
                                  {"bytes", std::to_string(response.size())}});
    conn_.write(std::move(response));
    conn_.close();
  }

  core::Connection& conn_;
  const MetricsEndpoint& endpoint_;
  metrics::RequestHeadParser parser_;
};

MetricsEndpoint::MetricsEndpoint(core::EventLoop& loop, core::WorkQueue& work, Source source)
    : loop_(loop), work_(work), source_(std::move(source)) {}

MetricsEndpoint::~MetricsEndpoint() { stop(); }

void MetricsEndpoint::apply(const std::string& setting) {
  if (setting == setting_) return;
  setting_ = setting;
  ++generation_;
  listener_.reset();
  spec_.reset();
  error_.clear();
  const auto address = config::metrics_listen_address(setting);
  if (!address) {
    log::info("metrics.closed");
    return;
  }
  auto binds = net::parse_bind_list(*address, 0);
  if (!binds || binds->size() != 1) {  // mailctl validates: only a hand-edited database
    error_ = binds ? "one address and port expected" : binds.error().message;
    log::error("metrics.bind_failed", {{"bind", setting}, {"error", error_}});
    return;
  }
  const net::BindSpec wanted = binds->front();
  if (wanted.is_numeric()) {
    open(wanted);
    return;
  }
  // A host name: resolved off the loop, the first address used.
  auto resolved = std::make_shared<net::ResolvedBinds>();
  std::weak_ptr<int> alive = alive_;
  work_.submit([resolved, wanted] { *resolved = net::resolve_binds({wanted}); },
               [this, alive, resolved, wanted, generation = generation_] {
                 if (alive.expired() || generation != generation_) return;
                 if (resolved->binds.empty()) {
                   error_ = resolved->errors.empty() ? "no address" : resolved->errors.front().second;
                   log::error("metrics.bind_failed", {{"bind", wanted.str()}, {"error", error_}});
                   return;
                 }
                 open(resolved->binds.front());
               });
}

void MetricsEndpoint::open(const net::BindSpec& spec) {
  spec_ = spec;
  auto listener = std::make_unique<core::Listener>(loop_, spec, [this](core::StreamHandle socket) {
    on_accept(std::move(socket));
  });
  if (Status opened = listener->open(); !opened.ok()) {
    error_ = opened.error().message;
    log::error("metrics.bind_failed", {{"bind", spec.str()}, {"error", error_}});
    return;
  }
  error_.clear();
  listener_ = std::move(listener);
  log::info("metrics.listening", {{"bind", spec.str()}});
}

void MetricsEndpoint::retry_failed_bind() {
  if (!listener_ && spec_ && !error_.empty()) open(*spec_);
}

void MetricsEndpoint::stop() {
  ++generation_;
  listener_.reset();
  // A connection calls back into scrapes_ when it finishes: move them out first.
  auto scrapes = std::move(scrapes_);
  scrapes_.clear();
  for (auto& [id, conn] : scrapes) conn->abort();
}

MetricsEndpoint::State MetricsEndpoint::state() const {
  if (setting_ == "off") return {};
  return State{spec_ ? spec_->str() : setting_, listener_ != nullptr, error_};
}

void MetricsEndpoint::on_accept(core::StreamHandle socket) {
  core::ConnectionLimits limits;
  limits.max_line = metrics::RequestHeadParser::kMaxHeadBytes;
  limits.idle_timeout_ms = kRequestTimeoutMs;
  limits.login_timeout_ms = kRequestTimeoutMs;  // never "logged in": the whole exchange's deadline
  const core::ConnectionId id = ++next_id_;
  std::weak_ptr<int> alive = alive_;
  auto conn = std::make_unique<core::Connection>(loop_, work_, id, std::move(socket), limits,
                                                 [this, alive](core::ConnectionId closed) {
                                                   if (!alive.expired()) scrapes_.erase(closed);
                                                 });
  if (scrapes_.size() >= kMaxScrapes) {
    log::warn("metrics.busy", {{"ip", conn->peer_ip()}, {"limit", std::to_string(kMaxScrapes)}});
    conn->abort();
    return;
  }
  core::Connection& ref = *conn;
  scrapes_.emplace(id, std::move(conn));
  ref.start(std::make_unique<ScrapeSession>(ref, *this));
}

std::string MetricsEndpoint::render(metrics::TextFormat format) const {
  return metrics::render(source_(), format);
}

}  // namespace mailroom::daemon
