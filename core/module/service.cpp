// Service: reconciles listeners with settings and owns the service's connections.
#include "core/module/service.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>

#include "core/ipfilter/address_rule.h"

#include "core/log/log_router.h"
#include "core/log/logger.h"

namespace mailroom::core {

namespace {
// An accepted socket's descriptor on its way to another loop: closed unless a handle takes it.
class HandedFd {
 public:
  explicit HandedFd(int fd) : fd_(fd) {}
  ~HandedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  HandedFd(const HandedFd&) = delete;
  HandedFd& operator=(const HandedFd&) = delete;
  int get() const { return fd_; }
  void release() { fd_ = -1; }

 private:
  int fd_;
};

// Called on the main loop only (accept).
ConnectionId next_connection_id() {
  static ConnectionId next = 0;
  return ++next;
}

// With "*" on a port, only the wildcard is bound on that port (binding a specific address on
// the same port would fail with EADDRINUSE); getsockname still tells the local address.
std::vector<net::BindSpec> effective_binds(const std::vector<net::BindSpec>& wanted) {
  std::set<int> wildcard_ports;
  for (const auto& b : wanted) {
    if (b.address == "*") wildcard_ports.insert(b.port);
  }
  std::vector<net::BindSpec> out;
  for (const auto& b : wanted) {
    if (b.address != "*" && wildcard_ports.count(b.port)) continue;
    out.push_back(b);
  }
  return out;
}
const char* kind_name(bool tls, const net::BindSpec& spec) { return tls ? "tls" : spec.is_unix() ? "unix" : "plain"; }
// A setting of the service's logging (service_log_settings.h); "" when the catalog has none
// (a module seam test's own catalog).
const std::string& log_setting(const config::ServiceSettings& settings, std::string_view key) {
  static const std::string kNone;
  auto it = settings.values().find(key);
  return it == settings.values().end() ? kNone : it->second;
}
std::string block_duration_text(const ipfilter::Block& b, ipfilter::TimePoint now) {
  if (!b.expires) return "until lifted or restart";
  return std::to_string(std::chrono::duration_cast<std::chrono::seconds>(*b.expires - now).count()) + " s";
}
}  // namespace

const char* BindStatus::kind() const { return kind_name(tls, spec); }

BindPlan plan_binds(const config::NetworkSettings& settings, const std::string& data_dir) {
  BindPlan plan;
  auto resolve = [](const std::string& binds, int port, int alt_port) {
    auto parsed = net::parse_bind_list(binds, port);
    if (!parsed) {  // validated on write; only a hand-edited database gets here
      net::ResolvedBinds bad;
      bad.errors.emplace_back(net::BindSpec{binds, port}, parsed.error().message);
      return bad;
    }
    std::vector<net::BindSpec> specs = *parsed;
    if (alt_port > 0) {  // the alternate port on every address of the list
      for (const auto& spec : *parsed) {
        net::BindSpec alt{spec.address, alt_port};
        bool dup = false;
        for (const auto& s : specs) dup = dup || s == alt;
        if (!dup) specs.push_back(std::move(alt));
      }
    }
    auto resolved = net::resolve_binds(specs);
    resolved.binds = effective_binds(resolved.binds);
    return resolved;
  };
  plan.plain = resolve(settings.binds, settings.port, settings.alt_port);
  if (settings.implicit_tls) plan.tls = resolve(settings.tls_binds, settings.tls_port, 0);
  if (!settings.unix_socket.empty()) {  // an absolute setting replaces data_dir; a relative data_dir is made absolute
    std::error_code ec;
    auto path = std::filesystem::path(data_dir) / settings.unix_socket;
    auto absolute = std::filesystem::absolute(path, ec);
    plan.unix_socket = (ec ? path : absolute).lexically_normal().string();
  }
  return plan;
}

Service::Service(EventLoop& loop, WorkQueue& work, std::string name, const ModuleDescriptor& descriptor,
                 Module& module)
    : loop_(loop), name_(std::move(name)), descriptor_(descriptor), module_(module), session_metrics_(name_) {
  auto shard = std::make_unique<Shard>();
  shard->loop = &loop;
  shard->work = &work;
  alive_ = shard->token;
  shards_.push_back(std::move(shard));
}

Service::Service(LoopPool& loops, std::string name, const ModuleDescriptor& descriptor, Module& module)
    : loop_(loops.loop(0)), pool_(&loops), name_(std::move(name)), descriptor_(descriptor), module_(module),
      session_metrics_(name_) {
  for (std::size_t i = 0; i < loops.size(); ++i) {
    auto shard = std::make_unique<Shard>();
    shard->loop = &loops.loop(i);
    shard->work = &loops.work(i);
    shards_.push_back(std::move(shard));
  }
  alive_ = shards_[0]->token;
}

Service::~Service() {
  stop();
  // Each loop's callbacks check their own shard's token on their own thread: once it is reset
  // there, nothing on that loop reaches this object.
  for (auto& shard : shards_) {
    run_on_loop(*shard->loop, [&shard] { shard->alive.reset(); });
  }
  log::router().forget_service(name_);
}

std::size_t Service::current_shard() const {
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i]->loop->on_loop_thread()) return i;
  }
  return shards_.size();
}

std::size_t Service::connection_count() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

ServiceStats Service::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

ConnectionLimits Service::limits() const {
  ConnectionLimits l;
  auto ms = [](std::chrono::seconds s) { return static_cast<uint64_t>(std::chrono::milliseconds(s).count()); };
  l.max_line = network_.max_command_length;
  l.output_high_water = network_.output_buffer_size;
  l.idle_timeout_ms = ms(network_.idle_timeout);
  l.command_timeout_ms = ms(network_.command_timeout);
  l.login_timeout_ms = ms(network_.login_timeout);
  l.handshake_timeout_ms = ms(network_.handshake_timeout);
  return l;
}

void Service::apply(std::shared_ptr<const config::ServiceSettings> settings, bool enabled,
                    std::shared_ptr<const tls::TlsContext> tls, const BindPlan& binds) {
  settings_ = std::move(settings);
  config::NetworkSettings network = config::network_settings_from(*settings_);
  // Before anything below logs: those events already go where the new settings say.
  log::router().configure_service(name_, {log_setting(*settings_, "log_target"), log_setting(*settings_, "log_level"),
                                          log_setting(*settings_, "log_format")});
  transcript_ = log_setting(*settings_, "debug_transcript") == "on";
  enabled_ = enabled;
  tls_ = std::move(tls);
  binds_ = binds;
  {
    std::lock_guard lock(mu_);
    network_ = std::move(network);
    policy_.set_mode(network_.access_mode);
    policy_.guard().configure(network_.hammer);
    // The per-address counts follow the (possibly changed) IPv6 grouping.
    per_ip_.clear();
    for (auto& [id, live] : live_) {
      if (!live.ip) continue;  // unix socket clients are not counted per address
      live.limit_key = policy_.guard().key_for(*live.ip);
      ++per_ip_[*live.limit_key];
    }
  }
  apply_proxy_settings();

  std::vector<ListenKey> wanted;
  bind_errors_.clear();
  auto add = [&](const net::ResolvedBinds& list, bool is_tls) {
    for (const auto& spec : list.binds) wanted.emplace_back(is_tls, spec);
    for (const auto& [spec, error] : list.errors) {
      log::error("service.bind_failed", {{"service", name_}, {"bind", spec.str()}, {"kind", kind_name(is_tls, spec)}, {"error", error}});
      bind_errors_[{is_tls, spec}] = error;
    }
  };
  if (enabled_) {
    add(binds.plain, false);
    if (!binds.unix_socket.empty()) wanted.emplace_back(false, net::BindSpec::unix_socket(binds.unix_socket));
    if (network_.implicit_tls) {
      if (tls_) {
        add(binds.tls, true);
      } else {
        log::warn("service.tls_unavailable", {{"service", name_}, {"reason", "no usable certificate"}});
      }
    }
  }
  std::set<ListenKey> wanted_set(wanted.begin(), wanted.end());
  // Listeners no longer wanted are superseded; retire_superseded() closes them unless no new
  // bind of their kind listens (a busy port, an address that is not up, a name that does not
  // resolve): the working listener then stays until its replacement listens.
  superseded_.clear();
  for (const auto& [key, listener] : listeners_) {
    if (!wanted_set.count(key)) superseded_.insert(key);
  }
  // Open new binds first, so a changed port never leaves the service unreachable.
  for (const auto& key : wanted) {
    if (!listeners_.count(key)) open_replacing(key);
  }
  if (!enabled_) {
    for (const auto& key : superseded_) {
      log::info("service.unlisten", {{"service", name_}, {"bind", key.second.str()}, {"kind", kind_name(key.first, key.second)}});
      listeners_.erase(key);
    }
    superseded_.clear();
  }
  retire_superseded();
  for (auto& [key, listener] : listeners_) {
    if (!key.second.is_unix()) continue;
    if (Status s = listener->set_file_mode(network_.unix_socket_mode); !s) {
      log::error("service.socket_mode", {{"service", name_}, {"bind", key.second.str()}, {"error", s.error().message}});
    }
  }
  // Every loop updates its own connections.
  ConnectionLimits l = limits();
  for (auto& shard : shards_) {
    Shard* sh = shard.get();
    std::weak_ptr<int> alive = sh->token;
    auto update = [sh, alive, l] {
      if (alive.expired()) return;
      for (auto& [id, client] : sh->connections) client.connection->set_limits(l);
    };
    if (sh->loop->on_loop_thread()) {
      update();
    } else {
      sh->loop->post(update);
    }
  }
}

bool Service::open_listener(const ListenKey& key) {
  std::weak_ptr<int> alive = alive_;
  bool is_tls = key.first;
  auto listener = std::make_unique<Listener>(loop_, key.second, [this, alive, is_tls](StreamHandle socket) {
    if (!alive.expired()) on_accept(std::move(socket), is_tls);
  });
  (void)listener->set_file_mode(network_.unix_socket_mode);  // before open(): cannot fail
  auto status = listener->open();
  const char* kind = kind_name(is_tls, key.second);
  if (!status) {
    log::error("service.bind_failed",
               {{"service", name_}, {"bind", key.second.str()}, {"kind", kind}, {"error", status.error().message}});
    bind_errors_[key] = status.error().message;
    return false;
  }
  log::info("service.listen", {{"service", name_}, {"bind", key.second.str()}, {"kind", kind}});
  listeners_.emplace(key, std::move(listener));
  bind_errors_.erase(key);
  return true;
}

// Opens `key`; a superseded listener holding its port (moving `127.0.0.1 110` to `* 110`) is
// closed first, and reopened should the new bind fail all the same.
bool Service::open_replacing(const ListenKey& key) {
  std::vector<ListenKey> moved;
  for (const auto& old : superseded_) {
    if (listeners_.count(old) && net::binds_collide(old.second, key.second)) moved.push_back(old);
  }
  for (const auto& old : moved) listeners_.erase(old);
  if (open_listener(key)) {
    for (const auto& old : moved) {
      log::info("service.unlisten", {{"service", name_}, {"bind", old.second.str()}, {"kind", kind_name(old.first, old.second)}});
      superseded_.erase(old);
    }
    return true;
  }
  for (const auto& old : moved) {
    if (!open_listener(old)) {  // lost to another program meanwhile: nothing to keep
      bind_errors_.erase(old);
      superseded_.erase(old);
    }
  }
  return false;
}

void Service::retire_superseded() {
  for (auto it = superseded_.begin(); it != superseded_.end();) {
    // Kept while its kind has a failed bind and no configured bind of that kind listens.
    const char* kind = kind_name(it->first, it->second);
    const auto same_kind = [&](const ListenKey& k) { return std::string_view(kind_name(k.first, k.second)) == kind; };
    const bool kind_failed = std::any_of(bind_errors_.begin(), bind_errors_.end(),
                                         [&](const auto& e) { return same_kind(e.first); });
    const bool kind_served = std::any_of(listeners_.begin(), listeners_.end(), [&](const auto& l) {
      return same_kind(l.first) && !superseded_.count(l.first);
    });
    if (kind_failed && !kind_served) {
      log::warn("service.listener_kept", {{"service", name_}, {"bind", it->second.str()}, {"kind", kind},
                                          {"reason", "no new bind of this kind listens; the old one stays until one does"}});
      ++it;
      continue;
    }
    log::info("service.unlisten", {{"service", name_}, {"bind", it->second.str()}, {"kind", kind}});
    listeners_.erase(*it);
    it = superseded_.erase(it);
  }
}

void Service::retry_failed_binds() {
  if (!enabled_) return;
  std::vector<ListenKey> failed;
  for (const auto& [key, error] : bind_errors_) {
    if (key.second.is_numeric()) failed.push_back(key);  // host names are retried by a reload
  }
  bool opened = false;
  for (const auto& key : failed) opened = open_replacing(key) || opened;
  if (opened && !superseded_.empty()) retire_superseded();
}

void Service::set_policy(PolicyData data) {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < data.rules.size(); ++i) {
    policy_.load_rules(static_cast<ipfilter::AccessList>(i), std::move(data.rules[i]));
  }
  policy_.guard().replace_blocks(std::move(data.blocks), [this](const ipfilter::Block& b) {
    return unsaved_blocks_.count({b.network, b.prefix}) != 0;
  });
}

void Service::block_saved(const ipfilter::Block& block) {
  std::lock_guard lock(mu_);
  unsaved_blocks_.erase({block.network, block.prefix});
}

void Service::expire() {
  std::lock_guard lock(mu_);
  policy_.guard().expire(ipfilter::Clock::now());
}

// From any loop: the block is in the guard already (every loop refuses it); the listener (which
// stores it) runs on the main loop.
void Service::placed(const ipfilter::Block& block) {
  {
    std::lock_guard lock(mu_);
    unsaved_blocks_.insert({block.network, block.prefix});
  }
  if (loop_.on_loop_thread()) {
    if (block_listener_) block_listener_(block);
    return;
  }
  std::weak_ptr<int> alive = alive_;
  loop_.post([this, alive, block] {
    if (!alive.expired() && block_listener_) block_listener_(block);
  });
}

void Service::stop() {
  listeners_.clear();
  superseded_.clear();
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    Shard& sh = *shards_[i];
    run_on_loop(*sh.loop, [&] {
      // Connections call back into the shard when they finish: move them out first.
      auto conns = std::move(sh.connections);
      sh.connections.clear();
      decltype(refused_) refused;
      decltype(awaiting_proxy_) awaiting;
      if (i == 0) {
        refused = std::move(refused_);
        refused_.clear();
        awaiting = std::move(awaiting_proxy_);
        awaiting_proxy_.clear();
      }
      for (auto& [id, client] : conns) {
        if (pool_ != nullptr && !client.connection->is_unix()) pool_->close_session(i);
        client.connection->abort();
      }
      for (auto& [id, conn] : refused) conn->abort();
      for (auto& [id, conn] : awaiting) conn->abort();
    });
  }
  std::lock_guard lock(mu_);
  live_.clear();
  per_ip_.clear();
  login_queues_.clear();
  checks_running_ = 0;
}

std::vector<SessionSummary> Service::sessions() const {
  std::vector<SessionSummary> out;
  for (const auto& shard : shards_) {
    const Shard& sh = *shard;
    run_on_loop(*sh.loop, [&] {
      for (const auto& [id, client] : sh.connections) {
    const Connection& c = *client.connection;
    SessionSummary s;
    s.id = id;
    s.ip = c.peer_ip();
    s.port = c.peer_port();
    if (const ProtocolSession* session = c.session()) s.info = session->describe();
    s.tls = c.tls_established() ? c.tls_version() : std::string();
    s.connected_at = c.connected_at();
    s.bytes_in = c.bytes_in();
    s.bytes_out = c.bytes_out();
    s.loop = static_cast<std::size_t>(&shard - shards_.data());
    out.push_back(std::move(s));
      }
    });
  }
  std::sort(out.begin(), out.end(), [](const SessionSummary& a, const SessionSummary& b) { return a.id < b.id; });
  return out;
}

// Each loop ends its own sessions (pick runs there).
std::vector<ConnectionId> Service::end_sessions(const std::function<bool(const Connection&)>& pick) {
  std::vector<ConnectionId> all;
  for (auto& shard : shards_) {
    Shard& sh = *shard;
    run_on_loop(*sh.loop, [&] {
      std::vector<ConnectionId> ended;
      for (auto& [id, client] : sh.connections) {
        if (client.connection->closing() || client.connection->ending() || !pick(*client.connection)) continue;
        ended.push_back(id);
      }
      std::sort(ended.begin(), ended.end());
      // end() may close at once; the connection leaves the map only on a later iteration.
      for (ConnectionId id : ended) {
        log::info("service.session_ended", {{"service", name_}, {"cid", std::to_string(id)}});
        sh.connections.at(id).connection->end(descriptor_.replies.ended, kEndGraceMs);
      }
      all.insert(all.end(), ended.begin(), ended.end());
    });
  }
  std::sort(all.begin(), all.end());
  return all;
}

std::vector<ConnectionId> Service::restart() {
  log::info("service.restart", {{"service", name_}});
  auto ended = end_sessions([](const Connection&) { return true; });
  for (const auto& [key, listener] : listeners_) {
    log::info("service.unlisten", {{"service", name_}, {"bind", key.second.str()}, {"kind", kind_name(key.first, key.second)}});
  }
  listeners_.clear();
  superseded_.clear();
  bind_errors_.clear();
  if (settings_) apply(settings_, enabled_, tls_, BindPlan(binds_));
  return ended;
}

std::vector<BindStatus> Service::bind_status() const {
  std::vector<BindStatus> out;
  for (const auto& [key, l] : listeners_) out.push_back({key.second, key.first, true, "", superseded_.count(key) != 0});
  for (const auto& [key, err] : bind_errors_) out.push_back({key.second, key.first, false, err});
  return out;
}

// On the connection's own loop.
void Service::on_closed(std::size_t shard, ConnectionId id) {
  if (shard == 0 && (refused_.erase(id) > 0 || awaiting_proxy_.erase(id) > 0)) return;
  Shard& sh = *shards_[shard];
  auto it = sh.connections.find(id);
  if (it == sh.connections.end()) return;
  session_metrics_.session_ended(*it->second.connection, std::chrono::steady_clock::now() - it->second.started);
  {
    std::lock_guard lock(mu_);
    release_locked(id);
  }
  // The pool counts the TCP sessions it chose a loop for (the unix socket's stay on the main loop).
  if (pool_ != nullptr && !it->second.connection->is_unix()) pool_->close_session(shard);
  sh.connections.erase(it);
}

void Service::release_locked(ConnectionId id) {
  auto it = live_.find(id);
  if (it == live_.end()) return;
  if (it->second.limit_key) {
    auto count = per_ip_.find(*it->second.limit_key);
    if (count != per_ip_.end() && --count->second == 0) per_ip_.erase(count);
  }
  // A login still waiting for a check slot is forgotten: nobody is left to answer.
  if (it->second.ip) {
    if (auto q = login_queues_.find(policy_.guard().key_for(*it->second.ip)); q != login_queues_.end()) {
      std::erase_if(q->second.waiting, [id](const Waiter& w) { return w.id == id; });
      if (q->second.running == 0 && q->second.waiting.empty()) login_queues_.erase(q);
    }
  }
  live_.erase(it);
}

// Sends `reply` (may be empty: nothing at all) and closes; kept until its close completes. On the
// main loop (shard 0), where refusals are made.
void Service::refuse(std::unique_ptr<Connection> conn, std::string reply) {
  if (!reply.empty()) conn->write(std::move(reply));
  conn->close();
  ConnectionId id = conn->id();
  refused_.emplace(id, std::move(conn));
}

std::unique_ptr<Connection> Service::make_connection(std::size_t shard, ConnectionId id, StreamHandle socket,
                                                     const SessionStart& start) {
  Shard& sh = *shards_[shard];
  std::weak_ptr<int> alive = sh.token;
  auto conn = std::make_unique<Connection>(*sh.loop, *sh.work, id, std::move(socket), start.limits,
                                           [this, alive, shard](ConnectionId closed) {
                                             if (!alive.expired()) on_closed(shard, closed);
                                           });
  conn->set_log_context(name_, start.transcript);
  return conn;
}

// On the main loop. The accept-time policy (IP lists, blocks, limits) is decided here, for every
// loop; a session that passes is counted (live_, per_ip_) before it is handed over, so the limits
// hold across loops.
void Service::on_accept(StreamHandle socket, bool tls) {
  ConnectionId id = next_connection_id();
  if (socket.is_unix()) {
    SessionStart start{settings_, tls_, limits(), transcript_, false};
    accept_unix(make_connection(0, id, std::move(socket), start), start);
    return;
  }
  if (network_.proxy_protocol) {
    SessionStart start{settings_, tls_, limits(), transcript_, false};
    await_proxy_header(make_connection(0, id, std::move(socket), start), tls);
    return;
  }
  std::string peer = Connection::peer_ip_of(socket);
  admit(Arrival{id, std::move(peer), std::move(socket), nullptr}, tls);
}

std::unique_ptr<Connection> Service::arrival_connection(Arrival& arrival, const SessionStart& start) {
  if (arrival.connection) return std::move(arrival.connection);
  return make_connection(0, arrival.id, std::move(*arrival.socket), start);
}

void Service::admit(Arrival arrival, bool tls) {
  const ConnectionId id = arrival.id;
  const std::string& peer = arrival.peer;
  SessionStart start{settings_, tls_, limits(), transcript_, false};
  auto ip = ipfilter::IpAddress::parse(peer);
  if (!ip) {  // never expected from a TCP peer; refuse rather than serve unfiltered
    log::error("net.bad_peer", {{"service", name_}, {"ip", peer}});
    if (arrival.connection) arrival.connection->abort();
    return;
  }
  auto now = ipfilter::Clock::now();
  // The IP filter decides before anything is sent, even before a TLS handshake: a denied
  // client learns nothing (no banner, no certificate) and costs one accept and one close.
  ipfilter::Verdict verdict;
  {
    std::lock_guard lock(mu_);
    verdict = policy_.check(*ip, now);
    if (!verdict.allowed()) {
      ++stats_.denied;
      if (verdict.reason == ipfilter::Reason::kBlocked) ++stats_.denied_by_block;
    }
  }
  if (!verdict.allowed()) {
    log::info("net.denied", {{"service", name_}, {"ip", peer}, {"reason", ipfilter::reason_name(verdict.reason)},
                             {"rule", verdict.rule_text}});
    refuse(arrival_connection(arrival, start), {});
    return;
  }
  if (tls) {
    if (!tls_) {  // the context went away since the listener opened: cannot serve TLS
      if (arrival.connection) arrival.connection->abort();
      return;
    }
    start.start_tls = true;
  }
  const char* over = nullptr;  // the limit refusing it
  std::size_t shard = 0;
  {
    std::lock_guard lock(mu_);
    ipfilter::IpAddress key = policy_.guard().key_for(*ip);
    if (live_.size() >= network_.max_connections) {
      ++stats_.over_limit;
      over = "max_connections";
    } else if (auto it = per_ip_.find(key);
               network_.max_connections_per_ip > 0 && it != per_ip_.end() && it->second >= network_.max_connections_per_ip) {
      ++stats_.over_ip_limit;
      over = "max_connections_per_ip";
    } else {
      ++per_ip_[key];
      ++stats_.accepted;
      if (pool_ != nullptr) shard = pool_->open_session();
      live_.emplace(id, Live{shard, *ip, key});
    }
  }
  if (over != nullptr) {
    log::warn("net.limit", {{"service", name_}, {"ip", peer}, {"limit", over}});
    auto conn = arrival_connection(arrival, start);
    if (start.start_tls) conn->start_tls(start.tls);
    refuse(std::move(conn), descriptor_.replies.busy);
    return;
  }
  if (shard == 0) {
    auto conn = arrival_connection(arrival, start);
    start_session(0, std::move(conn), start);
  } else if (arrival.connection) {  // read its PROXY header here: its socket and what it learnt move
    Connection::Carried carried;
    StreamHandle socket = arrival.connection->release_socket(carried);
    arrival.connection.reset();
    hand_over(shard, id, std::move(socket), std::move(start), std::move(carried));
  } else {
    hand_over(shard, id, std::move(*arrival.socket), std::move(start));
  }
}

// The socket's descriptor is duplicated and this loop's handle closed; the session loop opens its
// own handle on the copy. Nothing was read or written yet, and libuv registered nothing for it.
void Service::hand_over(std::size_t shard, ConnectionId id, StreamHandle socket, SessionStart start,
                        std::optional<Connection::Carried> carried) {
  int fd = -1;
  if (uv_fileno(socket.base(), &fd) == 0) fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  socket.reset();
  auto handed = std::make_shared<HandedFd>(fd);
  auto forget = [this, shard, id] {
    {
      std::lock_guard lock(mu_);
      release_locked(id);
    }
    if (pool_ != nullptr) pool_->close_session(shard);
  };
  if (fd < 0) {
    log::error("net.handover_failed", {{"service", name_}, {"cid", std::to_string(id)}, {"error", std::strerror(errno)}});
    forget();
    return;
  }
  Shard& sh = *shards_[shard];
  std::weak_ptr<int> alive = sh.token;
  sh.loop->post([this, alive, shard, id, handed, forget, start = std::move(start), carried = std::move(carried)]() mutable {
    if (alive.expired()) return;  // the service is going: the descriptor closes with `handed`
    UvHandle<uv_tcp_t> tcp;
    uv_tcp_init(shards_[shard]->loop->raw(), tcp.get());
    tcp.mark_initialized();
    if (int rc = uv_tcp_open(tcp.get(), handed->get()); rc != 0) {
      log::error("net.handover_failed", {{"service", name_}, {"cid", std::to_string(id)}, {"error", uv_strerror(rc)}});
      forget();
      return;
    }
    handed->release();
    auto conn = make_connection(shard, id, StreamHandle(std::move(tcp)), start);
    if (carried) conn->carry_over(std::move(*carried));
    start_session(shard, std::move(conn), start);
  });
}

// A client of the unix socket has no address: the IP lists, blocks and per-address limits do
// not apply (who may connect is the socket file's mode); max_connections does. Served on the
// main loop.
void Service::accept_unix(std::unique_ptr<Connection> conn, const SessionStart& start) {
  bool over = false;
  {
    std::lock_guard lock(mu_);
    if (live_.size() >= network_.max_connections) {
      ++stats_.over_limit;
      over = true;
    } else {
      ++stats_.accepted;
      live_.emplace(conn->id(), Live{0, std::nullopt, std::nullopt});
    }
  }
  if (over) {
    log::warn("net.limit", {{"service", name_}, {"ip", conn->peer_ip()}, {"limit", "max_connections"}});
    refuse(std::move(conn), descriptor_.replies.busy);
    return;
  }
  start_session(0, std::move(conn), start);
}

// On the session's loop.
void Service::start_session(std::size_t shard, std::unique_ptr<Connection> conn, const SessionStart& start) {
  ConnectionId id = conn->id();
  Connection& ref = *conn;
  if (start.start_tls) ref.start_tls(start.tls);
  log::debug("net.accept", {{"service", name_}, {"cid", std::to_string(id)}, {"ip", ref.peer_ip()},
                            {"loop", std::to_string(shard)}});
  shards_[shard]->connections.emplace(id, Client{std::move(conn)});
  ServiceContext ctx{name_, start.settings, start.tls, this, &descriptor_.replies};
  ref.start(module_.create_session(ref, ctx));
}

const Service::Live* Service::find_live(const Connection& connection) const {
  auto it = live_.find(connection.id());
  return it == live_.end() ? nullptr : &it->second;
}

const ipfilter::IpAddress* Service::client_ip(const Connection& connection) const {
  const Live* live = find_live(connection);
  return live != nullptr && live->ip ? &*live->ip : nullptr;
}

bool Service::login_blocked(const Connection& connection) {
  std::lock_guard lock(mu_);
  const auto* ip = client_ip(connection);
  return ip != nullptr && policy_.guard().is_blocked(*ip, ipfilter::Clock::now());
}

// ---------------------------------------------------------------- login checks
// The checks run on the session's loop; their counts are shared (mu_).

class Service::AdmittedCheck final : public LoginCheck {
 public:
  // `alive`: the token of the session's loop, where the check is used and released.
  AdmittedCheck(Service& service, std::weak_ptr<int> alive, ipfilter::IpAddress ip, ipfilter::IpAddress key,
                std::string peer)
      : service_(service), alive_(std::move(alive)), ip_(ip), key_(key), peer_(std::move(peer)) {}
  ~AdmittedCheck() override {
    if (!alive_.expired()) service_.check_finished(key_);
  }
  LoginFailure failed() override {
    if (alive_.expired()) return {};
    return service_.record_login_failure(ip_, peer_);
  }
  bool succeeded() override { return !alive_.expired() && service_.record_login_success(ip_); }

 private:
  Service& service_;
  std::weak_ptr<int> alive_;
  ipfilter::IpAddress ip_, key_;
  std::string peer_;
};

// The check of a unix socket client: no slot to wait for, no anti-hammering; a failure is only
// counted.
class Service::LocalCheck final : public LoginCheck {
 public:
  explicit LocalCheck(Service& service) : service_(service), alive_(service.alive_) {}
  LoginFailure failed() override {
    if (alive_.expired()) return {};
    std::lock_guard lock(service_.mu_);
    ++service_.stats_.login_failures;
    return {};
  }
  bool succeeded() override { return true; }

 private:
  Service& service_;
  std::weak_ptr<int> alive_;
};

// How many checks may run at once for `ip`: login_checks_per_ip, and with anti-hammering no
// more than the failures the address has left before a block, so checks that all fail at once
// stop at max_login_failures guesses. At least one, or a lowered limit could stall the queue.
// Under mu_.
int Service::check_slots(const ipfilter::IpAddress& ip, ipfilter::TimePoint now) const {
  int slots = network_.login_checks_per_ip;
  const int max_failures = policy_.guard().settings().max_login_failures;
  if (max_failures > 0) slots = std::min(slots, max_failures - policy_.guard().failures(ip, now));
  return std::max(slots, 1);
}

// On the session's loop.
void Service::admit_login(Connection& connection, LoginCheckStart start) {
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    const Live* live = find_live(connection);
    if (live == nullptr) return;
    if (live->ip) {
      ipfilter::IpAddress key = policy_.guard().key_for(*live->ip);
      login_queues_[key].waiting.push_back(Waiter{connection.id(), live->shard, *live->ip, connection.peer_ip(),
                                                  std::move(start), false, ++logins_queued_});
      queued = true;
    }
  }
  if (!queued) {  // a unix socket client: no slot to wait for
    start(std::make_shared<LocalCheck>(*this));
    return;
  }
  admit_waiting();
}

bool Service::prune_gone(LoginQueue& q, std::size_t here, std::vector<Connection*>& abandoned) {
  while (!q.waiting.empty()) {
    const Waiter& front = q.waiting.front();
    if (!live_.count(front.id)) {  // closed meanwhile
      q.waiting.pop_front();
      continue;
    }
    if (front.shard != here) return true;  // its own loop checks it when it starts there
    auto client = shards_[here]->connections.find(front.id);
    if (client == shards_[here]->connections.end()) return true;  // being handed over
    if (front.waited && client->second.connection->peer_gone()) {
      // The client hung up while its login waited for a slot (as a burst of guess-and-close
      // connections does): no check is spent on it. Only for logins that had to wait: a
      // half-closed client (USER, PASS, then shutdown of its sending side) that gets a slot at
      // once is answered as always.
      abandoned.push_back(client->second.connection.get());
      q.waiting.pop_front();
      continue;
    }
    return true;
  }
  return false;
}

// One login at a time: the service-wide slots (login_checks) go to the waiting address that has
// had the fewest checks started (among equals, the login that came first), so addresses guessing in bursts never keep another address's
// login waiting for more than the checks already running (and the work queue keeps threads for
// mail work). Per address, login_checks_per_ip and the failures left (check_slots) still bound it.
// Chosen under mu_; each start runs on its session's loop, outside the lock.
void Service::admit_waiting() {
  const std::size_t here = current_shard();
  for (;;) {
    std::vector<Connection*> abandoned;  // on this loop: aborted outside the lock
    ConnectionId id = 0;
    std::size_t shard = 0;
    bool waited = false;
    LoginCheckStart start;
    std::shared_ptr<AdmittedCheck> check;
    {
      std::lock_guard lock(mu_);
      const auto now = ipfilter::Clock::now();
      LoginQueue* chosen = nullptr;
      ipfilter::IpAddress chosen_key;
      LoginQueue* refuse = nullptr;  // the front login of a blocked address: answered without a check
      for (auto it = login_queues_.begin(); it != login_queues_.end();) {
        LoginQueue& q = it->second;
        if (!prune_gone(q, here, abandoned)) {
          it = q.running == 0 ? login_queues_.erase(it) : std::next(it);
          continue;
        }
        const ipfilter::IpAddress& ip = q.waiting.front().ip;
        if (policy_.guard().is_blocked(ip, now)) {
          refuse = &q;
          break;
        }
        const auto rank = [](const LoginQueue& l) { return std::pair(l.started, l.waiting.front().order); };
        if (checks_running_ < network_.login_checks && q.running < check_slots(ip, now) &&
            (chosen == nullptr || rank(q) < rank(*chosen))) {
          chosen = &q;
          chosen_key = it->first;
        }
        q.waiting.front().waited = true;  // stays true if another address goes first
        ++it;
      }
      LoginQueue* q = refuse != nullptr ? refuse : chosen;
      if (q != nullptr) {
        Waiter& front = q->waiting.front();
        if (refuse == nullptr) {
          ++q->running;
          ++q->started;
          ++checks_running_;
          check = std::make_shared<AdmittedCheck>(*this, shards_[front.shard]->token, front.ip, chosen_key,
                                                  front.peer);
        }
        id = front.id;
        shard = front.shard;
        waited = front.waited;
        start = std::move(front.start);
        q->waiting.pop_front();
      }
    }
    for (Connection* conn : abandoned) {
      log::info("net.login_abandoned",
                {{"service", name_}, {"ip", conn->peer_ip()}, {"cid", std::to_string(conn->id())}});
      conn->abort();
    }
    if (!start) {
      if (abandoned.empty()) return;  // check_finished() comes back
      continue;
    }
    deliver(shard, id, waited, std::move(start), std::move(check));  // may touch login_queues_
  }
}

void Service::deliver(std::size_t shard, ConnectionId id, bool waited, LoginCheckStart start,
                      std::shared_ptr<LoginCheck> check) {
  Shard& sh = *shards_[shard];
  if (sh.loop->on_loop_thread()) {
    start(std::move(check));
    return;
  }
  // Another loop's session: started there. If it has gone or hung up meanwhile, dropping the
  // check frees its slot (check_finished).
  std::weak_ptr<int> alive = sh.token;
  Shard* target = &sh;
  sh.loop->post([this, alive, target, id, waited, start = std::move(start), check = std::move(check)]() mutable {
    if (alive.expired()) return;
    auto client = target->connections.find(id);
    if (client == target->connections.end()) return;
    if (waited && client->second.connection->peer_gone()) {
      log::info("net.login_abandoned", {{"service", name_}, {"ip", client->second.connection->peer_ip()},
                                        {"cid", std::to_string(id)}});
      client->second.connection->abort();
      return;
    }
    start(std::move(check));
  });
}

void Service::check_finished(const ipfilter::IpAddress& key) {
  {
    std::lock_guard lock(mu_);
    auto q = login_queues_.find(key);
    if (q != login_queues_.end() && q->second.running > 0) --q->second.running;
    if (checks_running_ > 0) --checks_running_;
  }
  // Not from inside the finishing job's completion: the next check starts on a clean stack.
  std::weak_ptr<int> alive = alive_;
  loop_.post([this, alive] {
    if (!alive.expired()) admit_waiting();
  });
}

LoginFailure Service::record_login_failure(const ipfilter::IpAddress& ip, const std::string& peer) {
  auto now = ipfilter::Clock::now();
  std::optional<ipfilter::Block> placed_block;
  ipfilter::FailureOutcome outcome;
  {
    std::lock_guard lock(mu_);
    ++stats_.login_failures;
    outcome = policy_.guard().record_failure(ip, now);
    if (outcome.blocked) {
      ++stats_.blocks_placed;
      if (const ipfilter::Block* block = policy_.guard().find_block(ip, now)) placed_block = *block;
    }
  }
  if (placed_block) {
    log::warn("net.blocked", {{"service", name_}, {"ip", peer}, {"block", placed_block->key_text()},
                              {"reason", placed_block->reason}, {"duration", block_duration_text(*placed_block, now)}});
    placed(*placed_block);
  }
  return LoginFailure{outcome.delay, outcome.blocked || outcome.while_blocked};
}

bool Service::record_login_success(const ipfilter::IpAddress& ip) {
  std::lock_guard lock(mu_);
  if (policy_.guard().is_blocked(ip, ipfilter::Clock::now())) return false;
  policy_.guard().record_success(ip);
  return true;
}

LoginFailure Service::login_failed(const Connection& connection) {
  std::optional<ipfilter::IpAddress> ip;
  {
    std::lock_guard lock(mu_);
    if (const auto* found = client_ip(connection)) ip = *found;
    if (!ip) {  // gone, or a unix socket client: counted, nothing more
      ++stats_.login_failures;
      return {};
    }
  }
  return record_login_failure(*ip, connection.peer_ip());
}

bool Service::login_succeeded(const Connection& connection) {
  std::optional<ipfilter::IpAddress> ip;
  {
    std::lock_guard lock(mu_);
    const Live* live = find_live(connection);
    if (live == nullptr) return false;
    if (!live->ip) return true;  // a unix socket client is never blocked
    ip = *live->ip;
  }
  return record_login_success(*ip);
}

bool Service::command_too_long(const Connection& connection) {
  auto now = ipfilter::Clock::now();
  ipfilter::Block block;
  {
    std::lock_guard lock(mu_);
    if (!network_.auto_deny) return false;
    const auto* ip = client_ip(connection);
    if (ip == nullptr) return false;
    ++stats_.auto_denied;
    block = policy_.guard().deny_temporarily(
        *ip, now, network_.auto_deny_duration, ipfilter::BlockCause::kAutoDeny,
        "command line longer than " + std::to_string(network_.max_command_length) + " bytes");
  }
  log::warn("net.auto_deny", {{"service", name_}, {"ip", connection.peer_ip()}, {"block", block.key_text()},
                              {"reason", block.reason}, {"duration", block_duration_text(block, now)}});
  placed(block);
  return true;
}

}  // namespace mailroom::core
