// mailctl status, sessions [kill], reload and service start|stop|restart|status: the running
// daemon, through its control socket (control_client.h, docs/control.md). Start and stop also
// work with the daemon down: the stored `enabled` then takes effect at its next start.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/base/count_text.h"
#include "admin-cli/commands.h"
#include "admin-cli/control_client.h"
#include "admin-cli/service_lookup.h"

namespace mailroom::cli {

namespace {

using Json = nlohmann::ordered_json;

constexpr int kQuickTimeoutSeconds = 10;   // status, sessions, kill
constexpr int kActionTimeoutSeconds = 60;  // reload and service actions: a reload resolves host names

Result<Json> ask(const Context& ctx, Json request, int timeout = kQuickTimeoutSeconds) {
  return control_request(ctx.data_dir(), request, timeout);
}

// "45s", "12m05s", "3h02m", "4d07h".
std::string duration_text(int64_t seconds) {
  auto two = [](int64_t v) { return (v < 10 ? "0" : "") + std::to_string(v); };
  if (seconds < 60) return std::to_string(std::max<int64_t>(seconds, 0)) + "s";
  if (seconds < 3600) return std::to_string(seconds / 60) + "m" + two(seconds % 60) + "s";
  if (seconds < 86400) return std::to_string(seconds / 3600) + "h" + two(seconds / 60 % 60) + "m";
  return std::to_string(seconds / 86400) + "d" + two(seconds / 3600 % 24) + "h";
}


std::string string_or(const Json& value, const char* fallback) {
  return value.is_string() ? value.get<std::string>() : std::string(fallback);
}

void print_indented(const std::string& text) {
  std::string line;
  for (char c : text) {
    line.push_back(c);
    if (c == '\n') {
      std::cout << "  " << line;
      line.clear();
    }
  }
}

void print_service(const std::string& name, const Json& svc) {
  std::cout << "\nservice " << name << " (module " << svc.value("module", "") << ", "
            << (svc.value("enabled", false) ? "enabled" : "disabled")
            << "): " << counted(svc.value("connections", int64_t{0}), "connection", "connections") << "\n";
  std::vector<std::vector<std::string>> rows;
  for (const auto& l : svc["listeners"]) {
    // A superseded listener is an old bind kept open because its replacement failed.
    const char* state = !l.value("listening", false) ? "FAILED" : l.value("superseded", false) ? "kept (old)" : "listening";
    rows.push_back({state, l.value("bind", ""), l.value("kind", ""),
                    l.value("superseded", false) ? "no longer configured; kept until the new bind works"
                                                 : l.value("error", "")});
  }
  if (rows.empty()) {
    std::cout << "  no listeners\n";
  } else {
    print_indented(format_table({"STATE", "BIND", "KIND", "ERROR"}, rows));
  }
  const auto& c = svc["counters"];
  std::cout << "  accepted " << c.value("accepted", 0) << ", denied " << c.value("denied", 0) << ", over limit "
            << c.value("over_limit", 0) << ", over per-IP limit " << c.value("over_ip_limit", 0)
            << ", login failures " << c.value("login_failures", 0) << ", blocks placed "
            << c.value("blocks_placed", 0) << ", auto-denied " << c.value("auto_denied", 0)
            << ", PROXY header refused " << c.value("proxy_refused", 0) << "; active blocks "
            << svc.value("active_blocks", 0) << "\n";
  if (svc.contains("tls") && svc["tls"].is_object()) {
    const auto& t = svc["tls"];
    if (!t.value("error", "").empty()) std::cout << "  TLS error: " << t.value("error", "") << "\n";
    if (!t.value("certificate", "").empty()) std::cout << "  TLS certificate: " << t.value("certificate", "") << "\n";
    if (t.contains("warning") && t["warning"].is_string()) {
      std::cout << "  TLS warning: " << t["warning"].get<std::string>() << " (renew it: docs/tls.md)\n";
    }
  }
}

// The metrics endpoint (daemon setting metrics_listen) is a listener too: its bind and result.
void print_metrics_endpoint(const Json& metrics) {
  if (!metrics.is_object()) {
    std::cout << "metrics endpoint: off\n";
    return;
  }
  const std::string bind = metrics.value("bind", "");
  if (metrics.value("listening", false)) {
    std::cout << "metrics endpoint: listening on " << bind << "\n";
  } else {
    std::cout << "metrics endpoint: FAILED " << bind << ": " << metrics.value("error", "") << " (tried again every ~30 s)\n";
  }
}

// The database and, on PostgreSQL, its change feed and this node's mailbox leases: one line.
// Nothing from a daemon too old to report it.
void print_database(const Json& database) {
  if (!database.is_object()) return;
  const std::string kind = database.value("kind", "?");
  std::cout << "database: " << kind;
  const Json feed = database.value("change_feed", Json());
  if (feed.is_object()) {
    std::cout << ", change feed " << (feed.value("listening", false) ? "listening" : "NOT listening (reconnecting)");
  }
  const Json leases = database.value("leases", Json());
  if (leases.is_object()) {
    std::cout << ", " << counted(leases.value("held", int64_t{0}), "mailbox lease", "mailbox leases") << " held by node "
              << leases.value("node", "?") << " (ttl " << leases.value("ttl_seconds", int64_t{0}) << " s)";
    if (const auto failures = leases.value("renewal_failures", uint64_t{0}); failures > 0) {
      std::cout << "; " << counted(static_cast<int64_t>(failures), "renewal", "renewals") << " failed since start";
    }
  }
  std::cout << "\n";
}

// mailctl status and service status [NAME]: the daemon's `status`, for every service or one.
Status run_status(const Context& ctx, const std::string& only) {
  auto reply = ask(ctx, {{"command", "status"}});
  if (!reply) {
    if (reply.error().code == ErrorCode::kUnavailable && ctx.json) print_json({{"running", false}});
    return reply.error();
  }
  Json doc = std::move(reply).value();
  doc.erase("ok");
  Json& services = doc["services"];
  if (!only.empty()) {
    if (!services.contains(only)) {
      return make_error(ErrorCode::kNotFound, "the running daemon has no service '" + only + "'");
    }
    Json one = Json::object();
    one[only] = services[only];
    services = std::move(one);
  }
  if (ctx.json) {
    Json out = {{"running", true}};
    for (auto& [key, value] : doc.items()) out[key] = value;
    print_json(out);
    return {};
  }
  std::cout << "mailroomd " << string_or(doc["version"], "?") << " running (pid " << doc.value("pid", int64_t{0})
            << ", user " << string_or(doc["user"], "?") << ", since " << string_or(doc["started_at"], "?") << ", up "
            << duration_text(doc.value("uptime_seconds", int64_t{0})) << ")\n";
  if (doc.contains("loops") && doc["loops"].is_array() && doc["loops"].size() > 1) {
    std::cout << "event loops: " << doc["loops"].size() << " (sessions open:";
    for (const auto& loop : doc["loops"]) std::cout << " " << loop.value("sessions", int64_t{0});
    std::cout << ")\n";
  }
  if (only.empty()) {  // daemon-wide, not a service's
    print_database(doc["database"]);
    print_metrics_endpoint(doc["metrics"]);
  }
  for (const auto& [name, svc] : services.items()) print_service(name, svc);
  return {};
}

Status run_sessions(const Context& ctx, const std::string& service) {
  Json request = {{"command", "sessions"}};
  if (!service.empty()) request["service"] = service;
  auto reply = ask(ctx, request);
  if (!reply) return reply.error();
  const Json& sessions = (*reply)["sessions"];
  if (ctx.json) {
    print_json(sessions);
    return {};
  }
  if (sessions.empty()) {
    print_line(service.empty() ? "no sessions" : "no sessions of service " + service);
    return {};
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& s : sessions) {
    rows.push_back({std::to_string(s.value("id", uint64_t{0})), s.value("service", ""), s.value("peer", ""),
                    escape_control(string_or(s["address"], "-")), s.value("state", ""), string_or(s["tls"], "-"),
                    duration_text(s.value("age_seconds", int64_t{0})), std::to_string(s.value("received_bytes", uint64_t{0})),
                    std::to_string(s.value("sent_bytes", uint64_t{0}))});
  }
  std::cout << format_table({"ID", "SERVICE", "PEER", "MAILBOX", "STATE", "TLS", "AGE", "BYTES IN", "BYTES OUT"}, rows);
  return {};
}

struct KillArgs {
  uint64_t id = 0;
  std::string mailbox, ip;
};

Status run_kill(const Context& ctx, const KillArgs& args, bool by_id) {
  const int given = (by_id ? 1 : 0) + (args.mailbox.empty() ? 0 : 1) + (args.ip.empty() ? 0 : 1);
  if (given != 1) throw UsageError("sessions kill needs exactly one of ID, --mailbox ADDRESS or --ip IP");
  Json request = {{"command", "kill"}};
  if (by_id) request["id"] = args.id;
  if (!args.mailbox.empty()) request["address"] = args.mailbox;
  if (!args.ip.empty()) request["ip"] = args.ip;
  auto reply = ask(ctx, request);
  if (!reply) return reply.error();
  std::string ids;
  for (const auto& id : (*reply)["ids"]) ids += (ids.empty() ? "" : ", ") + std::to_string(id.get<uint64_t>());
  const int64_t count = reply->value("sessions_ended", int64_t{0});
  Json extra = std::move(reply).value();
  extra.erase("ok");
  ctx.done("ended " + counted(count, "session", "sessions") + " (" + ids + ")", std::move(extra));
  return {};
}

Status run_reload(const Context& ctx) {
  auto reply = ask(ctx, {{"command", "reload"}}, kActionTimeoutSeconds);
  if (!reply) return reply.error();
  ctx.done("mailroomd reloaded its configuration");
  return {};
}

std::string listeners_text(const Json& listeners) {
  std::string text;
  for (const auto& l : listeners) {
    text += (text.empty() ? "" : ", ") + l.value("bind", "") + " (" + l.value("kind", "") + ")";
  }
  return text.empty() ? "no listeners configured" : "listening on " + text;
}

enum class Action { kStart, kStop, kRestart };

Status run_service_action(const Context& ctx, const std::string& name, Action action) {
  static constexpr const char* kCommands[] = {"service-start", "service-stop", "service-restart"};
  auto reply = ask(ctx, {{"command", kCommands[static_cast<int>(action)]}, {"service", name}}, kActionTimeoutSeconds);
  if (!reply && reply.error().code == ErrorCode::kUnavailable && action != Action::kRestart) {
    // No daemon: store the state; it takes effect when mailroomd starts.
    const bool enabled = action == Action::kStart;
    auto store = ctx.open_store();
    if (!store) return store.error();
    auto svc = load_service(**store, name);
    if (!svc) return svc.error();
    if (Status s = (*store)->set_service_enabled(name, enabled); !s) return s;
    ctx.done(std::string(enabled ? "started" : "stopped") + " service " + name +
                 " (stored; mailroomd is not running: this takes effect when it starts)",
             {{"service", name}, {"enabled", enabled}, {"running", false}});
    return {};
  }
  if (!reply) return reply.error();
  Json extra = std::move(reply).value();
  extra.erase("ok");
  std::string message;
  const int64_t ended = extra.value("sessions_ended", int64_t{0});
  switch (action) {
    case Action::kStart:
      message = "started service " + name + ": " + listeners_text(extra["listeners"]);
      break;
    case Action::kStop:
      message = "stopped service " + name + " (" + counted(ended, "session", "sessions") + " ended)";
      break;
    case Action::kRestart:
      message = "restarted service " + name + " (" + counted(ended, "session", "sessions") + " ended): " +
                listeners_text(extra["listeners"]);
      break;
  }
  ctx.done(message, std::move(extra));
  return {};
}

}  // namespace

void add_control_commands(CLI::App& app, Context& ctx) {
  CLI::App* status = app.add_subcommand(
      "status", "Show the running daemon: version, uptime, and per service its listeners, connections, counters");
  status->callback([&ctx] { ctx.action = [&ctx] { return run_status(ctx, ""); }; });

  auto service = std::make_shared<std::string>();
  CLI::App* sessions = app.add_subcommand("sessions", "List the open sessions (or end some with 'sessions kill')");
  sessions->add_option("SERVICE", *service, "Only the sessions of this service");
  auto kill_args = std::make_shared<KillArgs>();
  CLI::App* kill = sessions->add_subcommand("kill", "End sessions gracefully: one by ID, or by mailbox or client IP");
  CLI::Option* id = kill->add_option("ID", kill_args->id, "Session id (see 'mailctl sessions')");
  kill->add_option("--mailbox", kill_args->mailbox, "Every session logged in to this mailbox (full address)");
  kill->add_option("--ip", kill_args->ip, "Every session from this client address");
  kill->callback([&ctx, kill_args, id] {
    const bool by_id = id->count() > 0;
    ctx.action = [&ctx, kill_args, by_id] { return run_kill(ctx, *kill_args, by_id); };
  });
  sessions->callback([&ctx, service, kill] {
    if (kill->parsed()) return;  // 'sessions kill' set its own action
    ctx.action = [&ctx, service] { return run_sessions(ctx, *service); };
  });

  CLI::App* reload = app.add_subcommand("reload", "Make the running daemon re-read its configuration now");
  reload->callback([&ctx] { ctx.action = [&ctx] { return run_reload(ctx); }; });

  // The service group exists (cmd_service.cpp): its verbs that act on the running daemon.
  CLI::App* group = app.get_subcommand("service");
  struct Verb {
    const char* name;
    const char* help;
    Action action;
  };
  for (const Verb& verb :
       {Verb{"start", "Enable a service and open its listeners now (reports each bind)", Action::kStart},
        Verb{"stop", "Disable a service, close its listeners and end its sessions now", Action::kStop},
        Verb{"restart", "Close and reopen a service's listeners and end its sessions", Action::kRestart}}) {
    auto name = std::make_shared<std::string>();
    CLI::App* cmd = group->add_subcommand(verb.name, verb.help);
    cmd->add_option("NAME", *name, "Service name")->required();
    cmd->callback([&ctx, name, action = verb.action] {
      ctx.action = [&ctx, name, action] { return run_service_action(ctx, *name, action); };
    });
  }
  auto status_name = std::make_shared<std::string>();
  CLI::App* service_status = group->add_subcommand(
      "status", "Show what the running daemon serves: listeners (and binds that failed), connections, counters");
  service_status->add_option("NAME", *status_name, "Only this service");
  service_status->callback(
      [&ctx, status_name] { ctx.action = [&ctx, status_name] { return run_status(ctx, *status_name); }; });
}

}  // namespace mailroom::cli
