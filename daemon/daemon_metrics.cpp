// Daemon and per-service families, built at scrape time on the loop.
#include "daemon/daemon_metrics.h"

#include <string>

namespace mailroom::daemon {

namespace {
metrics::Family family(std::string name, std::string help, metrics::MetricType type,
                       std::vector<std::string> labels = {}) {
  metrics::Family f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  f.label_names = std::move(labels);
  return f;
}

constexpr auto kCounter = metrics::MetricType::kCounter;
constexpr auto kGauge = metrics::MetricType::kGauge;
}  // namespace

std::vector<metrics::Family> daemon_metric_families(const RunningServices& running, const DaemonInfo& info,
                                                    std::string_view version) {
  const int64_t started_at = info.started_at;
  auto up = family("mailroom_up", "Always 1: mailroomd answered this scrape.", kGauge);
  up.samples.push_back({{}, 1});
  auto start = family("mailroom_start_time_seconds", "When mailroomd started (unix time).", kGauge);
  start.samples.push_back({{}, static_cast<double>(started_at)});
  auto build = family("mailroom_build_info", "mailroomd's version (the value is always 1).", kGauge, {"version"});
  build.samples.push_back({{std::string(version)}, 1});

  auto connections = family("mailroom_connections", "Connections handed to a session (accepted and not refused).",
                            kCounter, {"service"});
  auto active = family("mailroom_connections_active", "Sessions open now.", kGauge, {"service"});
  auto denied = family("mailroom_denied",
                       "Connections refused before any banner, by reason: access_list (the IP lists), blocked "
                       "(a block), max_connections, max_connections_per_ip, proxy_header (proxy_protocol: an untrusted "
                       "sender, or no, a malformed or a late PROXY header).",
                       kCounter, {"service", "reason"});
  auto failures = family("mailroom_login_failures",
                         "Failures counted by anti-hammering: failed logins and, with count_unknown_recipients, "
                         "unknown SMTP/LMTP recipients.",
                         kCounter, {"service"});
  auto blocks = family("mailroom_blocks_placed", "Anti-hammering blocks placed.", kCounter, {"service"});
  auto auto_denied = family("mailroom_auto_denied",
                            "Clients put on the temporary deny list for an over-long command line (auto_deny).",
                            kCounter, {"service"});
  auto active_blocks = family("mailroom_blocks_active", "Blocks in force now (placed here or stored).", kGauge,
                              {"service"});
  for (const auto& [name, service] : running.services()) {
    const core::ServiceStats st = service->stats();
    auto n = [](uint64_t v) { return static_cast<double>(v); };
    connections.samples.push_back({{name}, n(st.accepted)});
    active.samples.push_back({{name}, n(service->connection_count())});
    denied.samples.push_back({{name, "access_list"}, n(st.denied - st.denied_by_block)});
    denied.samples.push_back({{name, "blocked"}, n(st.denied_by_block)});
    denied.samples.push_back({{name, "max_connections"}, n(st.over_limit)});
    denied.samples.push_back({{name, "max_connections_per_ip"}, n(st.over_ip_limit)});
    denied.samples.push_back({{name, "proxy_header"}, n(st.proxy_refused)});
    failures.samples.push_back({{name}, n(st.login_failures)});
    blocks.samples.push_back({{name}, n(st.blocks_placed)});
    auto_denied.samples.push_back({{name}, n(st.auto_denied)});
    active_blocks.samples.push_back({{name}, n(service->with_policy([](const ipfilter::AccessPolicy& p) { return p.guard().block_count(); }))});
  }
  // Per event loop (`loops`): label values are loop numbers, at most core::kMaxLoops.
  auto loop_sessions = family("mailroom_loop_sessions", "Sessions open now on each event loop (setting 'loops').",
                              kGauge, {"loop"});
  auto loop_served = family("mailroom_loop_sessions_served", "Sessions handed to each event loop since start.",
                            kCounter, {"loop"});
  const auto loads = running.loop_loads();
  for (std::size_t i = 0; i < loads.size(); ++i) {
    loop_sessions.samples.push_back({{std::to_string(i)}, static_cast<double>(loads[i].open)});
    loop_served.samples.push_back({{std::to_string(i)}, static_cast<double>(loads[i].served)});
  }
  std::vector<metrics::Family> out;
  for (auto* f : {&up, &start, &build, &connections, &active, &denied, &failures, &blocks, &auto_denied, &active_blocks,
                  &loop_sessions, &loop_served}) {
    out.push_back(std::move(*f));
  }
  // The shared database's parts (PostgreSQL); SQLite has neither, and exports neither.
  if (info.database.feed_listening) {
    auto feed = family("mailroom_change_feed_listening",
                       "1 while the database's change feed LISTENs, 0 while it reconnects (PostgreSQL).", kGauge);
    feed.samples.push_back({{}, info.database.feed_listening() ? 1.0 : 0.0});
    out.push_back(std::move(feed));
  }
  if (info.database.leases) {
    const storage::LeaseKeeper::State st = info.database.leases->state();
    auto held = family("mailroom_mailbox_leases_held",
                       "Mailbox leases this node's sessions hold now (one session per mailbox across nodes).", kGauge);
    held.samples.push_back({{}, static_cast<double>(st.held)});
    auto failed = family("mailroom_lease_renewal_failures",
                         "Rounds in which renewing this node's mailbox leases failed (the database away).", kCounter);
    failed.samples.push_back({{}, static_cast<double>(st.renewal_failures)});
    out.push_back(std::move(held));
    out.push_back(std::move(failed));
  }
  return out;
}

}  // namespace mailroom::daemon
