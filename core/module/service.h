// Service: one running instance of a module with its settings: its listeners (the bind set),
// its connections and its network policy (IP lists, anti-hammering, auto-deny, limits).
// apply() reconciles to new settings live, without dropping healthy sessions.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/ipfilter/access_policy.h"
#include "core/ipfilter/range_set.h"
#include "core/loop/event_loop.h"
#include "core/loop/loop_pool.h"
#include "core/config/network_settings.h"
#include "core/module/module.h"
#include "core/module/module_descriptor.h"
#include "core/module/session_metrics.h"
#include "core/net/bind_spec.h"
#include "core/net/connection.h"
#include "core/net/listener.h"

namespace mailroom::core {

struct BindStatus {
  net::BindSpec spec;
  bool tls = false;  // implicit TLS listener
  bool listening = false;
  std::string error;  // why it is not listening
  // No longer configured, but kept listening because a configured bind of the same kind failed:
  // a broken change never takes a working service off the air.
  bool superseded = false;
  // "plain", "tls" (implicit TLS) or "unix" (the unix-domain socket; spec.str() is "unix:/path").
  const char* kind() const;
};

// The listeners a service wants: `binds` (plus `alt_port`) and, with implicit TLS, `tls_binds`,
// with host names resolved, and the `unix_socket` path made absolute. Built by plan_binds() off
// the loop (resolution blocks).
struct BindPlan {
  net::ResolvedBinds plain;
  net::ResolvedBinds tls;
  std::string unix_socket;  // absolute path; empty = none
  bool operator==(const BindPlan&) const = default;
};
// BLOCKING (DNS): call on a worker. Invalid bind text (only a hand-edited database) is reported
// as an error entry. A relative `unix_socket` is taken from `data_dir`.
BindPlan plan_binds(const config::NetworkSettings& settings, const std::string& data_dir);

// The stored policy (rules with their counters, blocks), loaded by the daemon.
struct PolicyData {
  std::array<std::vector<ipfilter::PolicyRule>, 3> rules;  // indexed by ipfilter::AccessList
  std::vector<ipfilter::Block> blocks;
};

struct ServiceStats {
  uint64_t accepted = 0;          // connections handed to a session
  uint64_t denied = 0;            // refused by the IP lists or a block, before any banner
  uint64_t denied_by_block = 0;   // of those, refused by a block (the rest by the IP lists)
  uint64_t over_limit = 0;        // refused by max_connections
  uint64_t over_ip_limit = 0;     // refused by max_connections_per_ip
  uint64_t login_failures = 0;
  uint64_t blocks_placed = 0;     // anti-hammering blocks
  uint64_t auto_denied = 0;       // over-long command lines that put the client on the deny list
  uint64_t proxy_refused = 0;     // proxy_protocol: untrusted sender, no, bad or late PROXY header
};

// One session as `mailctl sessions` lists it.
struct SessionSummary {
  ConnectionId id = 0;
  std::string ip;  // the client's address, or Connection::kUnixPeer for a unix socket client
  int port = 0;
  SessionInfo info;  // what the protocol session says (mailbox, state)
  std::string tls;   // TLS protocol version ("TLSv1.3"); empty without TLS
  std::chrono::system_clock::time_point connected_at;
  uint64_t bytes_in = 0, bytes_out = 0;
  std::size_t loop = 0;  // the event loop serving it (core/loop/loop_pool.h; 0 = the main loop)
};

// Threads (docs/scaling.md): the listeners, accept, the IP lists and limits, apply() and every
// public method run on the main loop. Sessions run on the loop the LoopPool chooses at accept (the
// socket is handed over); each loop's connections are touched only on its thread. What sessions
// share — the policy (IP lists, anti-hammering, blocks), per-address counts, login check slots,
// the stats — is guarded by one mutex, so a block placed on one loop refuses on every loop at once.
class Service : private ClientPolicy {
 public:
  // Told of every block the service places itself (to store it); the daemon answers with
  // block_saved() when it is stored.
  using BlockListener = std::function<void(const ipfilter::Block&)>;

  // `descriptor` and `module` outlive the service.
  // One loop: every session on `loop`.
  Service(EventLoop& loop, WorkQueue& work, std::string name, const ModuleDescriptor& descriptor, Module& module);
  // Sessions spread over the pool's loops (started before; it outlives the service).
  Service(LoopPool& loops, std::string name, const ModuleDescriptor& descriptor, Module& module);
  ~Service() override;
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  const std::string& name() const { return name_; }
  const ModuleDescriptor& descriptor() const { return descriptor_; }
  // Opens binds that are new (or failed before) first, then closes removed ones — unless no new
  // bind of the same kind (plain or implicit TLS) listens because one failed: then the old
  // listeners of that kind stay open (superseded) until one does. Existing connections keep
  // running with updated limits. Disabled: closes listeners, keeps sessions.
  // `tls` is the context for implicit TLS and the in-protocol upgrade; null means TLS is
  // unavailable (the implicit TLS listeners are then closed and no upgrade is offered).
  void apply(std::shared_ptr<const config::ServiceSettings> settings, bool enabled,
             std::shared_ptr<const tls::TlsContext> tls, const BindPlan& binds);
  // Replaces rules and blocks with the stored ones (blocks placed here but not stored yet stay).
  void set_policy(PolicyData data);
  void set_block_listener(BlockListener listener) { block_listener_ = std::move(listener); }
  void block_saved(const ipfilter::Block& block);
  // Tries again to open the listeners that failed (an address that was not up yet, a port
  // another program held); call now and then.
  void retry_failed_binds();
  bool has_failed_binds() const { return !bind_errors_.empty(); }
  // Drops expired blocks and failure records (call now and then).
  void expire();
  // Closes every listener and connection (shutdown).
  void stop();

  // How long an ended session's running command may take before its connection is dropped
  // (Connection::end()): a RETR to a slow client, a login waiting for a check slot.
  static constexpr uint64_t kEndGraceMs = 10000;
  // The sessions open now (refused connections finishing their last line are not sessions).
  std::vector<SessionSummary> sessions() const;
  // Ends the sessions `pick` chooses, gracefully (Connection::end() with the module's `ended`
  // line); returns their ids.
  std::vector<ConnectionId> end_sessions(const std::function<bool(const Connection&)>& pick);
  // mailctl service restart: ends every session, closes every listener and opens them again with
  // what was applied last. Nothing is opened for a disabled service.
  // Returns the ids of the sessions ended.
  std::vector<ConnectionId> restart();

  std::vector<BindStatus> bind_status() const;
  std::size_t connection_count() const;
  ServiceStats stats() const;
  // Runs `f` on the policy under the lock sessions take: no session changes it meanwhile.
  template <typename F>
  decltype(auto) with_policy(F&& f) const {
    std::lock_guard lock(mu_);
    return f(static_cast<const ipfilter::AccessPolicy&>(policy_));
  }

 private:
  // {implicit TLS, bind}. Three kinds of listener: plain TCP, implicit TLS, the unix socket
  // (never TLS); a failed bind keeps the superseded listeners of its own kind only.
  using ListenKey = std::pair<bool, net::BindSpec>;
  // A session on its loop (a Shard's, touched on that loop's thread only).
  struct Client {
    std::unique_ptr<Connection> connection;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  };
  // What every loop may ask about a session (under mu_): from accept until it closes.
  struct Live {
    std::size_t shard = 0;
    std::optional<ipfilter::IpAddress> ip;  // nullopt: a unix-domain socket client (no IP policy)
    std::optional<ipfilter::IpAddress> limit_key;  // counted in per_ip_ under this key
  };
  // One loop's part of the service.
  struct Shard {
    EventLoop* loop = nullptr;
    WorkQueue* work = nullptr;
    std::unordered_map<ConnectionId, Client> connections;
    std::shared_ptr<int> alive = std::make_shared<int>(0);  // reset on this loop's thread at destruction
    std::weak_ptr<int> token = alive;                       // copied by callbacks that run on this loop
  };
  // What a session is started with: the settings of the moment it was accepted.
  struct SessionStart {
    std::shared_ptr<const config::ServiceSettings> settings;
    std::shared_ptr<const tls::TlsContext> tls;
    ConnectionLimits limits;
    bool transcript = false;
    bool start_tls = false;
  };

  // A TCP client on the main loop, its address final (the socket's, or its PROXY header's): either
  // the accepted socket itself or the connection that read the header.
  struct Arrival {
    ConnectionId id = 0;
    std::string peer;
    std::optional<StreamHandle> socket;
    std::unique_ptr<Connection> connection;
  };

  void on_accept(StreamHandle socket, bool tls);
  // IP policy, implicit TLS, limits, then the session on the chosen loop.
  void admit(Arrival arrival, bool tls);
  // The Arrival as a Connection on the main loop (made from its socket when it has none yet).
  std::unique_ptr<Connection> arrival_connection(Arrival& arrival, const SessionStart& start);
  // proxy_protocol (service_proxy.cpp): a trusted balancer's connection waits for its header on
  // the main loop, anything else is refused before a byte is sent.
  void apply_proxy_settings();
  void await_proxy_header(std::unique_ptr<Connection> conn, bool tls);
  void proxy_header_read(ConnectionId id, bool tls, const net::ProxyParse& verdict);
  void refuse_proxied(std::unique_ptr<Connection> conn, const std::string& reason);
  void accept_unix(std::unique_ptr<Connection> conn, const SessionStart& start);
  std::unique_ptr<Connection> make_connection(std::size_t shard, ConnectionId id, StreamHandle socket,
                                              const SessionStart& start);
  // Moves an accepted TCP socket to `shard`'s loop and starts its session there; `carried`: what a
  // connection that read a PROXY header learnt (the client's address, bytes after the header).
  void hand_over(std::size_t shard, ConnectionId id, StreamHandle socket, SessionStart start,
                 std::optional<Connection::Carried> carried = std::nullopt);
  void start_session(std::size_t shard, std::unique_ptr<Connection> conn, const SessionStart& start);
  // Forgets a session's shared record (per-address count, waiting logins); under mu_.
  void release_locked(ConnectionId id);
  // The shard whose loop runs on this thread; size() when none does (a worker).
  std::size_t current_shard() const;
  bool open_listener(const ListenKey& key);
  // open_listener(), first closing a superseded listener that holds the port (reopened on failure).
  bool open_replacing(const ListenKey& key);
  // Closes superseded listeners unless their kind has a failed bind and nothing else listening.
  void retire_superseded();
  void refuse(std::unique_ptr<Connection> conn, std::string reply);
  void on_closed(std::size_t shard, ConnectionId id);
  ConnectionLimits limits() const;
  // The session's shared record (under mu_); null once it has gone.
  const Live* find_live(const Connection& connection) const;
  // The client's address (under mu_); null for a unix-domain socket client or one that has gone.
  const ipfilter::IpAddress* client_ip(const Connection& connection) const;
  void placed(const ipfilter::Block& block);

  // ClientPolicy
  bool login_blocked(const Connection& connection) override;
  void admit_login(Connection& connection, LoginCheckStart start) override;
  LoginFailure login_failed(const Connection& connection) override;
  bool login_succeeded(const Connection& connection) override;
  bool command_too_long(const Connection& connection) override;

  // Password checks per address key (guard().key_for): running, and logins waiting for a slot.
  class AdmittedCheck;
  class LocalCheck;
  struct Waiter {
    ConnectionId id;
    std::size_t shard = 0;    // the loop its session runs on: start runs there
    ipfilter::IpAddress ip;   // the client's address
    std::string peer;         // as the connection gives it (logs)
    LoginCheckStart start;
    bool waited = false;  // found no free slot at least once
    uint64_t order = 0;   // arrival order (service-wide): the earliest goes first among equals
  };
  struct LoginQueue {
    int running = 0;
    uint64_t started = 0;  // checks started while this queue existed: the fewest go first
    std::deque<Waiter> waiting;
  };
  // Starts waiting logins while the service has check slots (login_checks), the address with the
  // fewest checks started first (then the earliest login); refuses those of blocked addresses.
  void admit_waiting();
  // Drops the front waiters of `q` whose client has gone; false when none is left.
  // (under mu_; waiters on this thread's loop only: another loop's are checked when started there)
  bool prune_gone(LoginQueue& q, std::size_t here, std::vector<Connection*>& abandoned);
  // Runs a waiter's start on its session's loop (outside mu_).
  void deliver(std::size_t shard, ConnectionId id, bool waited, LoginCheckStart start,
               std::shared_ptr<LoginCheck> check);
  void check_finished(const ipfilter::IpAddress& key);
  int check_slots(const ipfilter::IpAddress& ip, ipfilter::TimePoint now) const;
  LoginFailure record_login_failure(const ipfilter::IpAddress& ip, const std::string& peer);
  bool record_login_success(const ipfilter::IpAddress& ip);

  EventLoop& loop_;
  LoopPool* pool_ = nullptr;  // null: one loop (shards_ has one)
  std::vector<std::unique_ptr<Shard>> shards_;  // [0] is loop_'s
  std::string name_;
  const ModuleDescriptor& descriptor_;
  Module& module_;
  std::shared_ptr<const config::ServiceSettings> settings_;
  config::NetworkSettings network_;  // read from settings_ by apply()
  bool enabled_ = false;
  bool transcript_ = false;  // debug_transcript: new sessions are transcribed
  std::shared_ptr<const tls::TlsContext> tls_;
  BindPlan binds_;  // applied last (restart())
  std::map<ListenKey, std::unique_ptr<Listener>> listeners_;
  std::map<ListenKey, std::string> bind_errors_;
  std::set<ListenKey> superseded_;  // listening, no longer configured (see BindStatus)
  // Refused connections finishing their last write (on the main loop): not counted against any limit.
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> refused_;
  // Connections reading their PROXY header (main loop): not sessions yet, at most max_connections.
  std::unordered_map<ConnectionId, std::unique_ptr<Connection>> awaiting_proxy_;
  ipfilter::RangeSet proxy_trusted_;  // from proxy_trusted, built by apply() (main loop)
  // ---- shared by the loops: guarded by mu_ (network_ is written under it too) ----
  mutable std::mutex mu_;
  std::unordered_map<ConnectionId, Live> live_;
  std::unordered_map<ipfilter::IpAddress, std::size_t, ipfilter::IpAddress::Hash> per_ip_;
  std::unordered_map<ipfilter::IpAddress, LoginQueue, ipfilter::IpAddress::Hash> login_queues_;
  int checks_running_ = 0;  // password checks of the whole service, bounded by login_checks
  uint64_t logins_queued_ = 0;  // Waiter::order
  ipfilter::AccessPolicy policy_;
  std::set<std::pair<ipfilter::IpAddress, int>> unsaved_blocks_;
  BlockListener block_listener_;
  ServiceStats stats_;
  SessionMetrics session_metrics_;
  std::weak_ptr<int> alive_;  // the main loop's shard token
};

}  // namespace mailroom::core
