// The PostgreSQL ChangeFeed (storage/change_feed.h): one connection of its own, LISTEN, then
// poll() on its socket in short slices (so stopping is prompt), PQconsumeInput, PQnotifies.
#include <poll.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <thread>

#include "core/log/logger.h"
#include "storage/change_feed.h"
#include "storage/postgres/pg_db.h"

namespace mailroom::storage {
namespace {

constexpr int kWaitSliceMs = 200;          // how long a stop may wait
constexpr int kReconnectEveryMs = 1000;    // retry after a failed or lost connection

std::string first_line(const char* text) {
  std::string s = text != nullptr ? text : "";
  if (auto nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  return s;
}

class PgChangeFeed final : public ChangeFeed {
 public:
  PgChangeFeed(std::string url, std::function<void()> changed)
      : url_(std::move(url)), changed_(std::move(changed)), thread_([this] { run(); }) {}
  ~PgChangeFeed() override {
    stop_ = true;
    thread_.join();
  }
  bool connected() const override { return connected_; }

 private:
  void run() {
    bool logged_down = false;
    while (!stop_) {
      postgres::PgConn conn = postgres::connect_with_defaults(url_);
      if (!conn || PQstatus(conn.get()) != CONNECTION_OK || !listen(conn.get())) {
        if (!logged_down) {
          log::warn("database.change_feed",
                    {{"database", postgres::masked_url(url_)},
                     {"error", conn ? first_line(PQerrorMessage(conn.get())) : std::string("out of memory")},
                     {"effect", "changes from other nodes arrive at the next poll; retrying every second"}});
          logged_down = true;
        }
        sleep_while_running(kReconnectEveryMs);
        continue;
      }
      if (logged_down) log::info("database.change_feed", {{"database", postgres::masked_url(url_)}, {"state", "listening"}});
      logged_down = false;
      connected_ = true;
      changed_();  // whatever changed while nobody listened
      wait_for_notifications(conn.get());
      connected_ = false;
    }
  }

  static bool listen(PGconn* conn) {
    postgres::PgResult result(PQexec(conn, (std::string("LISTEN ") + kChangeChannel).c_str()));
    return result && PQresultStatus(result.get()) == PGRES_COMMAND_OK;
  }

  // Until the connection is lost or stop_: every notification calls changed_ (a burst is one call).
  void wait_for_notifications(PGconn* conn) {
    while (!stop_) {
      pollfd pfd{PQsocket(conn), POLLIN, 0};
      if (pfd.fd < 0) return;
      int ready = ::poll(&pfd, 1, kWaitSliceMs);
      if (ready < 0) {
        if (errno == EINTR) continue;
        return;
      }
      if (ready == 0) continue;
      if (PQconsumeInput(conn) == 0) {
        log::warn("database.change_feed", {{"database", postgres::masked_url(url_)},
                                           {"error", first_line(PQerrorMessage(conn))}, {"effect", "reconnecting"}});
        return;
      }
      bool any = false;
      while (PGnotify* n = PQnotifies(conn)) {
        PQfreemem(n);
        any = true;
      }
      if (any) changed_();
    }
  }

  void sleep_while_running(int ms) {
    for (int waited = 0; waited < ms && !stop_; waited += kWaitSliceMs) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kWaitSliceMs));
    }
  }

  const std::string url_;
  const std::function<void()> changed_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> connected_{false};
  std::thread thread_;  // last: started once everything it uses exists
};

}  // namespace

std::unique_ptr<ChangeFeed> open_change_feed(const std::string& database_url, std::function<void()> changed) {
  if (database_url.empty()) return nullptr;
  return std::make_unique<PgChangeFeed>(database_url, std::move(changed));
}

}  // namespace mailroom::storage
