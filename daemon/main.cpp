// mailroomd: opens the data directory, registers the built-in modules and runs the services in
// the foreground until SIGTERM/SIGINT (SIGHUP reloads the configuration).
#include <unistd.h>

#include <malloc.h>
#include <sys/resource.h>

#include <algorithm>
#include <csignal>
#include <functional>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "core/base/result.h"
#include "core/base/version.h"
#include "core/config/daemon_settings.h"
#include "core/log/log_router.h"
#include "core/log/logger.h"
#include "core/loop/event_loop.h"
#include "core/net/listener.h"
#include "core/system/sd_notify.h"
#include "storage/maildir/lock_file.h"
#include "daemon/builtin_modules.h"
#include "daemon/daemon.h"
#include "daemon/run_as.h"
#include "daemon/tmp_cleanup.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"
#include "storage/policy_store.h"
#include "storage/change_feed.h"
#include "storage/store_factory.h"

namespace {

void usage(std::ostream& out) {
  out << "usage: mailroomd [--data DIR] [--database URL] [--user NAME] [--log-level debug|info|warn|error]\n"
         "  --data DIR   Mailroom data directory (default: $MAILROOM_DATA)\n"
         "  --database URL  PostgreSQL URL of the accounts and policy (default: $MAILROOM_DATABASE, else\n"
         "               the one 'mailctl init --database' recorded in DIR, else DIR's SQLite database)\n"
         "  --user NAME  Started as root, run as NAME (default: $MAILROOM_USER, else mailroom; 'root' keeps\n"
         "               root): root is kept only to open the listeners. Not root, mailroomd runs as itself.\n"
         "  --log-level  The daemon's least severe level logged until the stored 'log_level' changes\n"
         "               (mailctl daemon set log_level ...); services that set no 'log_level' follow it.\n"
         "Runs in the foreground and logs to stderr until 'log_target' says otherwise (docs/logging.md).\n"
         "SIGTERM/SIGINT stop it; SIGHUP reopens file logs (log rotation) and reloads.\n";
}

}  // namespace

namespace {

constexpr int kMallocMmapThreshold = 1 << 20;  // bytes; see main()
constexpr int kMallocTrimThreshold = 8 << 20;

// DATA/run/mailroomd.lock, flock()ed for the daemon's lifetime and holding its pid.
mailroom::Result<mailroom::storage::UniqueFd> hold_instance_lock(const std::string& data_dir) {
  using mailroom::ErrorCode;
  using mailroom::make_error;
  std::error_code ec;
  if (!std::filesystem::is_directory(data_dir, ec)) {
    return make_error(ErrorCode::kNotFound, "data directory " + data_dir + " does not exist (create it with mailctl init)");
  }
  const std::filesystem::path run = std::filesystem::path(data_dir) / "run";
  std::filesystem::create_directory(run, ec);
  const std::string path = (run / "mailroomd.lock").string();
  auto fd = mailroom::storage::lock_file(path, /*wait=*/false);
  if (!fd && fd.error().code == ErrorCode::kInUse) {
    std::string pid;
    std::ifstream(path) >> pid;  // what the holder wrote
    return make_error(ErrorCode::kInUse, "another mailroomd" + (pid.empty() ? "" : " (pid " + pid + ")") +
                                             " is running on " + data_dir + " (" + path + " is locked)");
  }
  if (!fd) return fd.error();
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd->get(), 0) != 0 || ::pwrite(fd->get(), pid.data(), pid.size(), 0) < 0) {
    return make_error(ErrorCode::kIo, "cannot write " + path + ": " + std::strerror(errno));
  }
  return fd;
}

// Tells systemd (Type=notify) where the daemon is; a no-op without $NOTIFY_SOCKET.
void tell_service_manager(std::string_view state) {
  if (auto sent = mailroom::sd::notify(state); !sent) {
    mailroom::log::warn("daemon.sd_notify", {{"error", sent.error().message}});
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace mailroom;
  std::string data_dir;
  std::string user;
  std::string database_url;  // --database, else MAILROOM_DATABASE, else DATA/database.url or SQLite
  std::optional<std::string> log_level;  // --log-level
  if (const char* env = std::getenv("MAILROOM_DATA")) data_dir = env;
  if (const char* env = std::getenv("MAILROOM_USER")) user = env;
  if (const char* env = std::getenv("MAILROOM_DATABASE")) database_url = env;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if ((arg == "--data" || arg == "-d") && i + 1 < argc) {
      data_dir = argv[++i];
    } else if (arg.rfind("--data=", 0) == 0) {
      data_dir = arg.substr(7);
    } else if (arg == "--database" && i + 1 < argc) {
      database_url = argv[++i];
    } else if (arg.rfind("--database=", 0) == 0) {
      database_url = arg.substr(11);
    } else if (arg == "--user" && i + 1 < argc) {
      user = argv[++i];
    } else if (arg.rfind("--user=", 0) == 0) {
      user = arg.substr(7);
    } else if (arg == "--log-level" && i + 1 < argc) {
      std::string level = argv[++i];
      if (auto why = config::check_log_level(level)) {  // the setting's own words: one list of levels
        std::cerr << "mailroomd: invalid --log-level '" << level << "': " << *why << "\n";
        return 2;
      }
      log::router().configure_daemon({"stderr", level, "kv"});
      log_level = std::move(level);
    } else if (arg == "--help" || arg == "-h") {
      usage(std::cout);
      return 0;
    } else if (arg == "--version") {
      std::cout << version_line("mailroomd") << "\n";
      return 0;
    } else {
      std::cerr << "mailroomd: unknown argument '" << arg << "'\n";
      usage(std::cerr);
      return 2;
    }
  }
  if (data_dir.empty()) {
    std::cerr << "mailroomd: no data directory (use --data DIR or set MAILROOM_DATA)\n";
    return 2;
  }
  // Started as root, the daemon becomes the service user before it opens a file, so everything it
  // creates belongs to that user; it keeps CAP_NET_BIND_SERVICE until the listeners are open.
  auto run_as = daemon::choose_run_user(user);
  if (!run_as) {
    std::cerr << "mailroomd: " << run_as.error().message << "\n";
    return 1;
  }
  // The checks run as that user: under systemd root holds no CAP_DAC_READ_SEARCH, and what
  // matters is what the service user can reach.
  if (run_as->drops_root) {
    if (auto switched = core::become_user_keeping_bind(run_as->user); !switched.ok()) {
      std::cerr << "mailroomd: " << switched.error().message << "\n";
      return 1;
    }
  } else if (::geteuid() == 0) {
    log::warn("daemon.running_as_root", {{"hint", "start mailroomd with --user NAME to run unprivileged"}});
  }
  if (auto safe = daemon::check_data_dir(data_dir, *run_as); !safe.ok()) {
    std::cerr << "mailroomd: refusing to run: " << safe.error().message << "\n";
    return 1;
  }
  // One daemon per data directory: it alone serves these mailboxes (sessions hold their maildrop
  // in memory, see storage/maildir), writes the blocks and the status file.
  auto instance = hold_instance_lock(data_dir);
  if (!instance) {
    std::cerr << "mailroomd: " << instance.error().message << "\n";
    return 1;
  }
  // Every session holds a descriptor (its socket; a second one while a message is read): take the
  // whole allowance the system grants (the hard limit), as nginx and Dovecot do.
  rlimit nofile{};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    const rlim_t before = nofile.rlim_cur;
    nofile.rlim_cur = nofile.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &nofile) == 0) {
      log::info("daemon.fd_limit", {{"raised_from", std::to_string(before)}, {"to", std::to_string(nofile.rlim_cur)}});
    }
  }
  // A login builds its maildrop listing on a worker (about 1 MB for 5,000 messages) and frees it
  // at QUIT. With glibc's defaults that memory goes back to the kernel after every session and
  // is faulted in again by the next: login on a 5,000-message mailbox took 7.7 ms instead of
  // 4.0 ms. Keep up to 8 MiB free per arena and take blocks below 1 MiB from the heap. An
  // administrator's GLIBC_TUNABLES wins.
  if (std::getenv("GLIBC_TUNABLES") == nullptr) {
    mallopt(M_MMAP_THRESHOLD, kMallocMmapThreshold);
    mallopt(M_TRIM_THRESHOLD, kMallocTrimThreshold);
  }
  // The worker pool runs password hashing, SQLite and Maildir I/O for every event loop (libuv's
  // pool is one per process); size it before first use: 4, or one per core on a bigger machine
  // (`loops` serves sessions on every core). The environment's UV_THREADPOOL_SIZE wins.
  // Password checks stay bounded by each service's login_checks (docs/scaling.md).
  const unsigned workers = std::clamp(std::thread::hardware_concurrency(), 4u, 64u);
  setenv("UV_THREADPOOL_SIZE", std::to_string(workers).c_str(), 0);
  std::signal(SIGPIPE, SIG_IGN);

  auto accounts = storage::open_account_store(data_dir, false, database_url);
  if (!accounts) {
    std::cerr << "mailroomd: " << accounts.error().message << "\n";
    return 1;
  }
  auto policy = storage::open_policy_store(data_dir, database_url);
  if (!policy) {
    std::cerr << "mailroomd: " << policy.error().message << "\n";
    return 1;
  }
  auto mail = storage::make_maildir_store();
  // PostgreSQL: the cluster-wide session leases (one connection, a thread that renews them);
  // created before the modules and destroyed after them, its last round releasing what is held.
  auto lease_store = storage::open_session_leases(data_dir, database_url);
  if (!lease_store) {
    std::cerr << "mailroomd: " << lease_store.error().message << "\n";
    return 1;
  }
  std::shared_ptr<storage::LeaseKeeper> leases;
  if (*lease_store) {
    // The default until the first settings apply (before any listener opens) sets the stored value.
    const int64_t ttl = std::stoll(config::daemon_settings_catalog().find("cluster_lease_seconds")->default_value);
    leases = std::make_shared<storage::LeaseKeeper>(std::move(*lease_store), ttl);
    log::info("lease.node", {{"node", leases->node()}});
  }

  int exit_code = 0;
  {
    core::EventLoop loop;
    core::WorkQueue work(loop);
    daemon::Daemon d(loop, work, **accounts, **policy, *mail, builtin::make_modules(**accounts, *mail, data_dir, leases),
                     data_dir);
    d.set_run_user(run_as->user.name);
    const auto resolved_url = storage::resolve_database_url(data_dir, database_url);
    const bool shared_database = resolved_url.ok() && !resolved_url->empty();
    d.set_database_shared(shared_database);
    // PostgreSQL: LISTEN/NOTIFY brings other nodes' changes at once (storage/change_feed.h).
    // Declared after d, so it stops (its thread joined) before d goes.
    std::unique_ptr<storage::ChangeFeed> feed;
    if (shared_database) {
      feed = storage::open_change_feed(*resolved_url, [&d] { d.changed_elsewhere(); });
      storage::ChangeFeed* live = feed.get();
      d.set_change_feed_state([live] { return live->connected(); });
    }
    d.set_lease_keeper(leases);
    if (log_level) d.set_log_level_override(*log_level);

    core::UvHandle<uv_signal_t> sigterm, sigint, sighup;
    auto stop_all = [&]() {
      log::info("daemon.stop");
      tell_service_manager(sd::kStopping);
      d.shutdown();
      sigterm.reset();
      sigint.reset();
      sighup.reset();
      loop.stop();
    };
    struct SignalCtx {
      std::function<void()> stop;
      daemon::Daemon* d;
    } ctx{stop_all, &d};
    for (auto* h : {&sigterm, &sigint, &sighup}) {
      uv_signal_init(loop.raw(), h->get());
      h->mark_initialized();
      h->get()->data = &ctx;
    }
    auto on_stop = [](uv_signal_t* h, int signum) {
      auto* c = static_cast<SignalCtx*>(h->data);
      if (!c) return;
      log::info("daemon.signal", {{"signal", signum == SIGINT ? "INT" : "TERM"}, {"action", "stop"}});
      c->stop();
    };
    uv_signal_start(sigterm.get(), on_stop, SIGTERM);
    uv_signal_start(sigint.get(), on_stop, SIGINT);
    uv_signal_start(
        sighup.get(),
        [](uv_signal_t* h, int) {
          auto* c = static_cast<SignalCtx*>(h->data);
          if (!c) return;
          log::info("daemon.signal", {{"signal", "HUP"}, {"action", "reopen logs and reload"}});
          log::router().reopen_files();  // logrotate renamed them: new lines go to new files
          tell_service_manager(sd::reloading_message());
          c->d->reload("SIGHUP", [](const Status&) { tell_service_manager(sd::kReady); });
        },
        SIGHUP);

    auto started = d.start();
    if (started && run_as->drops_root) {
      // The listeners are open: root goes for good, and with it every capability.
      started = core::drop_root_for_good(run_as->user);
      core::Listener::privileged_ports_closed();
    }
    if (!started) {
      std::cerr << "mailroomd: " << started.error().message << "\n";
      tell_service_manager(sd::status_message(started.error().message));
      exit_code = 1;
      stop_all();
    } else {
      // The database as the log may show it: the password masked.
      auto url = storage::resolve_database_url(data_dir, database_url);
      const std::string database = url && !url->empty() ? storage::printable_database_url(*url) : "sqlite";
      log::info("daemon.start", {{"data", data_dir}, {"database", database}, {"pid", std::to_string(getpid())},
                                 {"user", run_as->user.name}});
      tell_service_manager(sd::kReady);  // listeners open, root given up, services running
      daemon::clean_delivery_leftovers(work, **accounts, *mail);
    }
    loop.run();
  }
  log::info("daemon.exit", {{"code", std::to_string(exit_code)}});
  log::router().flush();  // every queued line is in its file (or with syslog) before the process ends
  return exit_code;
}
