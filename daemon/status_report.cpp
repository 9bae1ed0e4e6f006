// The daemon's state as JSON (control `status`, run/status.json).
#include "daemon/status_report.h"

#include <unistd.h>

#include <ctime>

#include "core/base/time_text.h"
#include "core/base/version.h"

namespace mailroom::daemon {

nlohmann::ordered_json bind_report(const core::BindStatus& b) {
  return {{"bind", b.spec.str()}, {"kind", b.kind()}, {"listening", b.listening},
          {"superseded", b.superseded}, {"error", b.error}};
}

nlohmann::ordered_json database_report(const DatabaseState& database) {
  nlohmann::ordered_json feed = nullptr;
  if (database.feed_listening) feed = {{"listening", database.feed_listening()}};
  nlohmann::ordered_json leases = nullptr;
  if (database.leases) {
    const storage::LeaseKeeper::State st = database.leases->state();
    leases = {{"node", st.node},
              {"ttl_seconds", st.ttl_seconds},
              {"held", st.held},
              {"renewal_failures", st.renewal_failures},
              {"last_renewed_at",
               st.last_renewed_at ? nlohmann::ordered_json(rfc3339_utc(*st.last_renewed_at)) : nullptr}};
  }
  return {{"kind", database.postgresql ? "postgresql" : "sqlite"},
          {"change_feed", std::move(feed)},
          {"leases", std::move(leases)}};
}

nlohmann::ordered_json status_report(const DaemonInfo& info, const RunningServices& running) {
  nlohmann::ordered_json services = nlohmann::ordered_json::object();
  for (const auto& [name, service] : running.services()) {
    nlohmann::ordered_json listeners = nlohmann::ordered_json::array();
    for (const auto& b : service->bind_status()) listeners.push_back(bind_report(b));
    const core::ServiceStats st = service->stats();
    const auto [checks, active_blocks] = service->with_policy([](const ipfilter::AccessPolicy& policy) {
      return std::pair(policy.counters().checks, policy.guard().block_count());
    });
    auto applied = running.applied().find(name);
    nlohmann::ordered_json tls = nullptr;
    if (auto t = running.tls().find(name); t != running.tls().end()) {
      tls = {{"certificate", t->second.context ? t->second.context->summary() : ""}, {"error", t->second.error}};
      const auto expiry = running.certificate_expiry(name, static_cast<int64_t>(std::time(nullptr)));
      tls["not_after_at"] = expiry ? nlohmann::ordered_json(rfc3339_utc(expiry->not_after)) : nullptr;
      tls["days_left"] = expiry ? nlohmann::ordered_json(expiry->days_left) : nullptr;
      tls["warning"] = expiry && expiry->warning ? nlohmann::ordered_json(*expiry->warning) : nullptr;
    }
    services[name] = {{"module", service->descriptor().name},
                      {"enabled", applied != running.applied().end() && applied->second.enabled},
                      {"connections", service->connection_count()},
                      {"listeners", std::move(listeners)},
                      {"tls", std::move(tls)},
                      {"counters",
                       {{"accepted", st.accepted},
                        {"denied", st.denied},
                        {"over_limit", st.over_limit},
                        {"over_ip_limit", st.over_ip_limit},
                        {"login_failures", st.login_failures},
                        {"blocks_placed", st.blocks_placed},
                        {"auto_denied", st.auto_denied},
                        {"proxy_refused", st.proxy_refused},
                        {"policy_checks", checks}}},
                      {"active_blocks", active_blocks}};
  }
  // The event loops serving sessions (`loops`): sessions open now and served since start.
  nlohmann::ordered_json loops = nlohmann::ordered_json::array();
  const auto loads = running.loop_loads();
  for (std::size_t i = 0; i < loads.size(); ++i) {
    loops.push_back({{"loop", i}, {"sessions", loads[i].open}, {"served", loads[i].served}});
  }
  nlohmann::ordered_json metrics = nullptr;
  if (!info.metrics.bind.empty()) {
    metrics = {{"bind", info.metrics.bind}, {"listening", info.metrics.listening}, {"error", info.metrics.error}};
  }
  return {{"pid", static_cast<int64_t>(getpid())},
          {"version", std::string(kVersion)},
          {"user", info.user},
          {"started_at", rfc3339_utc(info.started_at)},
          {"services", std::move(services)},
          {"loops", std::move(loops)},
          {"metrics", std::move(metrics)},
          {"database", database_report(info.database)}};
}

}  // namespace mailroom::daemon
