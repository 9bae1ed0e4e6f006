// Service: reconciles listeners with settings and owns the service's connections.
#include "core/module/service.h"

#include <algorithm>
#include <filesystem>
#include <set>
#include <system_error>

#include "core/ipfilter/address_rule.h"

#include "core/log/log_router.h"
#include "core/log/logger.h"

namespace mailroom::core {

namespace {
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
    : loop_(loop),
      work_(work),
      name_(std::move(name)),
      descriptor_(descriptor),
      module_(module),
      session_metrics_(name_) {}

Service::~Service() {
  stop();
  log::router().forget_service(name_);
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
  network_ = config::network_settings_from(*settings_);
  // Before anything below logs: those events already go where the new settings say.
  log::router().configure_service(name_, {log_setting(*settings_, "log_target"), log_setting(*settings_, "log_level"),
                                          log_setting(*settings_, "log_format")});
  transcript_ = log_setting(*settings_, "debug_transcript") == "on";
  enabled_ = enabled;
  tls_ = std::move(tls);
  binds_ = binds;
  policy_.set_mode(network_.access_mode);
  policy_.guard().configure(network_.hammer);
  apply_proxy_settings();
  // The per-address counts follow the (possibly changed) IPv6 grouping.
  per_ip_.clear();
  for (auto& [id, client] : connections_) {
    if (!client.ip) continue;  // unix socket clients are not counted per address
    client.limit_key = policy_.guard().key_for(*client.ip);
    ++per_ip_[*client.limit_key];
  }

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
  ConnectionLimits l = limits();
  for (auto& [id, client] : connections_) client.connection->set_limits(l);
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
  for (std::size_t i = 0; i < data.rules.size(); ++i) {
    policy_.load_rules(static_cast<ipfilter::AccessList>(i), std::move(data.rules[i]));
  }
  policy_.guard().replace_blocks(std::move(data.blocks), [this](const ipfilter::Block& b) {
    return unsaved_blocks_.count({b.network, b.prefix}) != 0;
  });
}

void Service::block_saved(const ipfilter::Block& block) { unsaved_blocks_.erase({block.network, block.prefix}); }

void Service::expire() { policy_.guard().expire(ipfilter::Clock::now()); }

void Service::placed(const ipfilter::Block& block) {
  unsaved_blocks_.insert({block.network, block.prefix});
  if (block_listener_) block_listener_(block);
}

void Service::stop() {
  listeners_.clear();
  superseded_.clear();
  // Connections call back into connections_ when they finish: move them out first.
  auto conns = std::move(connections_);
  auto refused = std::move(refused_);
  auto awaiting = std::move(awaiting_proxy_);
  connections_.clear();
  refused_.clear();
  awaiting_proxy_.clear();
  per_ip_.clear();
  login_queues_.clear();
  checks_running_ = 0;
  for (auto& [id, client] : conns) client.connection->abort();
  for (auto& [id, conn] : refused) conn->abort();
  for (auto& [id, conn] : awaiting) conn->abort();
  conns.clear();
  refused.clear();
  awaiting.clear();
}

std::vector<SessionSummary> Service::sessions() const {
  std::vector<SessionSummary> out;
  out.reserve(connections_.size());
  for (const auto& [id, client] : connections_) {
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
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(), [](const SessionSummary& a, const SessionSummary& b) { return a.id < b.id; });
  return out;
}

std::vector<ConnectionId> Service::end_sessions(const std::function<bool(const Connection&)>& pick) {
  std::vector<ConnectionId> ended;
  for (auto& [id, client] : connections_) {
    if (client.connection->closing() || client.connection->ending() || !pick(*client.connection)) continue;
    ended.push_back(id);
  }
  std::sort(ended.begin(), ended.end());
  // end() may close at once; the connection leaves connections_ only on a later iteration.
  for (ConnectionId id : ended) {
    log::info("service.session_ended", {{"service", name_}, {"cid", std::to_string(id)}});
    connections_.at(id).connection->end(descriptor_.replies.ended, kEndGraceMs);
  }
  return ended;
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

void Service::on_closed(ConnectionId id) {
  if (refused_.erase(id) > 0 || awaiting_proxy_.erase(id) > 0) return;
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  session_metrics_.session_ended(*it->second.connection, std::chrono::steady_clock::now() - it->second.started);
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
  connections_.erase(it);
}

// Sends `reply` (may be empty: nothing at all) and closes; kept until its close completes.
void Service::refuse(std::unique_ptr<Connection> conn, std::string reply) {
  if (!reply.empty()) conn->write(std::move(reply));
  conn->close();
  ConnectionId id = conn->id();
  refused_.emplace(id, std::move(conn));
}

void Service::on_accept(StreamHandle socket, bool tls) {
  ConnectionId id = next_connection_id();
  std::weak_ptr<int> alive = alive_;
  auto conn = std::make_unique<Connection>(loop_, work_, id, std::move(socket), limits(),
                                           [this, alive](ConnectionId closed) {
                                             if (!alive.expired()) on_closed(closed);
                                           });
  conn->set_log_context(name_, transcript_);
  if (conn->is_unix()) {
    accept_unix(std::move(conn));
    return;
  }
  if (network_.proxy_protocol) {
    await_proxy_header(std::move(conn), tls);
    return;
  }
  admit(std::move(conn), tls);
}

void Service::admit(std::unique_ptr<Connection> conn, bool tls) {
  auto ip = ipfilter::IpAddress::parse(conn->peer_ip());
  if (!ip) {  // never expected from a TCP peer; refuse rather than serve unfiltered
    log::error("net.bad_peer", {{"service", name_}, {"ip", conn->peer_ip()}});
    conn->abort();
    return;
  }
  auto now = ipfilter::Clock::now();
  // The IP filter decides before anything is sent, even before a TLS handshake: a denied
  // client learns nothing (no banner, no certificate) and costs one accept and one close.
  ipfilter::Verdict verdict = policy_.check(*ip, now);
  if (!verdict.allowed()) {
    ++stats_.denied;
    if (verdict.reason == ipfilter::Reason::kBlocked) ++stats_.denied_by_block;
    log::info("net.denied", {{"service", name_}, {"ip", conn->peer_ip()}, {"reason", ipfilter::reason_name(verdict.reason)},
                             {"rule", verdict.rule_text}});
    refuse(std::move(conn), {});
    return;
  }
  if (tls) {
    if (!tls_) {  // the context went away since the listener opened: cannot serve TLS
      conn->abort();
      return;
    }
    conn->start_tls(tls_);
  }
  if (connections_.size() >= network_.max_connections) {
    ++stats_.over_limit;
    log::warn("net.limit", {{"service", name_}, {"ip", conn->peer_ip()}, {"limit", "max_connections"}});
    refuse(std::move(conn), descriptor_.replies.busy);
    return;
  }
  ipfilter::IpAddress key = policy_.guard().key_for(*ip);
  if (network_.max_connections_per_ip > 0) {
    auto it = per_ip_.find(key);
    if (it != per_ip_.end() && it->second >= network_.max_connections_per_ip) {
      ++stats_.over_ip_limit;
      log::warn("net.limit", {{"service", name_}, {"ip", conn->peer_ip()}, {"limit", "max_connections_per_ip"}});
      refuse(std::move(conn), descriptor_.replies.busy);
      return;
    }
  }
  ++per_ip_[key];
  start_session(Client{std::move(conn), *ip, key});
}

// A client of the unix socket has no address: the IP lists, blocks and per-address limits do
// not apply (who may connect is the socket file's mode); max_connections does.
void Service::accept_unix(std::unique_ptr<Connection> conn) {
  if (connections_.size() >= network_.max_connections) {
    ++stats_.over_limit;
    log::warn("net.limit", {{"service", name_}, {"ip", conn->peer_ip()}, {"limit", "max_connections"}});
    refuse(std::move(conn), descriptor_.replies.busy);
    return;
  }
  start_session(Client{std::move(conn), std::nullopt, std::nullopt});
}

void Service::start_session(Client client) {
  ++stats_.accepted;
  ConnectionId id = client.connection->id();
  Connection& ref = *client.connection;
  log::debug("net.accept", {{"service", name_}, {"cid", std::to_string(id)}, {"ip", ref.peer_ip()}});
  connections_.emplace(id, std::move(client));
  ServiceContext ctx{name_, settings_, tls_, this, &descriptor_.replies};
  ref.start(module_.create_session(ref, ctx));
}

const Service::Client* Service::find_client(const Connection& connection) const {
  auto it = connections_.find(connection.id());
  return it == connections_.end() ? nullptr : &it->second;
}

const ipfilter::IpAddress* Service::client_ip(const Connection& connection) const {
  const Client* client = find_client(connection);
  return client != nullptr && client->ip ? &*client->ip : nullptr;
}

bool Service::login_blocked(const Connection& connection) {
  const auto* ip = client_ip(connection);
  return ip != nullptr && policy_.guard().is_blocked(*ip, ipfilter::Clock::now());
}

// ---------------------------------------------------------------- login checks

class Service::AdmittedCheck final : public LoginCheck {
 public:
  AdmittedCheck(Service& service, ipfilter::IpAddress ip, ipfilter::IpAddress key, std::string peer)
      : service_(service), alive_(service.alive_), ip_(ip), key_(key), peer_(std::move(peer)) {}
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
    if (!alive_.expired()) ++service_.stats_.login_failures;
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
int Service::check_slots(const ipfilter::IpAddress& ip, ipfilter::TimePoint now) const {
  int slots = network_.login_checks_per_ip;
  const int max_failures = policy_.guard().settings().max_login_failures;
  if (max_failures > 0) slots = std::min(slots, max_failures - policy_.guard().failures(ip, now));
  return std::max(slots, 1);
}

void Service::admit_login(Connection& connection, LoginCheckStart start) {
  auto it = connections_.find(connection.id());
  if (it == connections_.end()) return;
  if (!it->second.ip) {
    start(std::make_shared<LocalCheck>(*this));
    return;
  }
  ipfilter::IpAddress key = policy_.guard().key_for(*it->second.ip);
  login_queues_[key].waiting.push_back(Waiter{connection.id(), std::move(start), false, ++logins_queued_});
  admit_waiting();
}

bool Service::prune_gone(LoginQueue& q) {
  while (!q.waiting.empty()) {
    auto client = connections_.find(q.waiting.front().id);
    if (client == connections_.end()) {  // closed meanwhile
      q.waiting.pop_front();
      continue;
    }
    if (q.waiting.front().waited && client->second.connection->peer_gone()) {
      // The client hung up while its login waited for a slot (as a burst of guess-and-close
      // connections does): no check is spent on it. Only for logins that had to wait: a
      // half-closed client (USER, PASS, then shutdown of its sending side) that gets a slot at
      // once is answered as always.
      log::info("net.login_abandoned", {{"service", name_}, {"ip", client->second.connection->peer_ip()},
                                        {"cid", std::to_string(client->first)}});
      q.waiting.pop_front();
      client->second.connection->abort();
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
void Service::admit_waiting() {
  for (;;) {
    const auto now = ipfilter::Clock::now();
    LoginQueue* chosen = nullptr;
    ipfilter::IpAddress chosen_key;
    LoginQueue* refuse = nullptr;  // the front login of a blocked address: answered without a check
    for (auto it = login_queues_.begin(); it != login_queues_.end();) {
      LoginQueue& q = it->second;
      if (!prune_gone(q)) {
        it = q.running == 0 ? login_queues_.erase(it) : std::next(it);
        continue;
      }
      const ipfilter::IpAddress& ip = *connections_.at(q.waiting.front().id).ip;  // waiters have an address
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
    if (q == nullptr) return;  // check_finished() comes back
    const Client& client = connections_.at(q->waiting.front().id);
    std::shared_ptr<AdmittedCheck> check;
    if (refuse == nullptr) {
      ++q->running;
      ++q->started;
      ++checks_running_;
      check = std::make_shared<AdmittedCheck>(*this, *client.ip, chosen_key, client.connection->peer_ip());
    }
    LoginCheckStart start = std::move(q->waiting.front().start);
    q->waiting.pop_front();
    start(std::move(check));  // may touch login_queues_: look everything up again
  }
}

void Service::check_finished(const ipfilter::IpAddress& key) {
  auto q = login_queues_.find(key);
  if (q != login_queues_.end() && q->second.running > 0) --q->second.running;
  if (checks_running_ > 0) --checks_running_;
  // Not from inside the finishing job's completion: the next check starts on a clean stack.
  std::weak_ptr<int> alive = alive_;
  loop_.post([this, alive] {
    if (!alive.expired()) admit_waiting();
  });
}

LoginFailure Service::record_login_failure(const ipfilter::IpAddress& ip, const std::string& peer) {
  ++stats_.login_failures;
  auto now = ipfilter::Clock::now();
  auto outcome = policy_.guard().record_failure(ip, now);
  if (outcome.blocked) {
    ++stats_.blocks_placed;
    if (const ipfilter::Block* block = policy_.guard().find_block(ip, now)) {
      log::warn("net.blocked", {{"service", name_}, {"ip", peer}, {"block", block->key_text()},
                                {"reason", block->reason}, {"duration", block_duration_text(*block, now)}});
      placed(*block);
    }
  }
  return LoginFailure{outcome.delay, outcome.blocked || outcome.while_blocked};
}

bool Service::record_login_success(const ipfilter::IpAddress& ip) {
  if (policy_.guard().is_blocked(ip, ipfilter::Clock::now())) return false;
  policy_.guard().record_success(ip);
  return true;
}

LoginFailure Service::login_failed(const Connection& connection) {
  const auto* ip = client_ip(connection);
  if (ip == nullptr) {  // gone, or a unix socket client: counted, nothing more
    ++stats_.login_failures;
    return {};
  }
  return record_login_failure(*ip, connection.peer_ip());
}

bool Service::login_succeeded(const Connection& connection) {
  const Client* client = find_client(connection);
  if (client == nullptr) return false;
  return !client->ip || record_login_success(*client->ip);  // a unix socket client is never blocked
}

bool Service::command_too_long(const Connection& connection) {
  if (!network_.auto_deny) return false;
  const auto* ip = client_ip(connection);
  if (ip == nullptr) return false;
  ++stats_.auto_denied;
  auto now = ipfilter::Clock::now();
  const ipfilter::Block& block = policy_.guard().deny_temporarily(
      *ip, now, network_.auto_deny_duration, ipfilter::BlockCause::kAutoDeny,
      "command line longer than " + std::to_string(network_.max_command_length) + " bytes");
  log::warn("net.auto_deny", {{"service", name_}, {"ip", connection.peer_ip()}, {"block", block.key_text()},
                              {"reason", block.reason}, {"duration", block_duration_text(block, now)}});
  placed(block);
  return true;
}

}  // namespace mailroom::core
