// Status file: DATA/run/status.json built from the running services, replaced whole (tmp + rename).
#include "daemon/status_file.h"

#include <unistd.h>

#include <ctime>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>

namespace mailroom::daemon {

namespace {
constexpr const char* kStatusFile = "run/status.json";
}  // namespace

StatusFile::StatusFile(core::WorkQueue& work, const std::string& data_dir)
    : work_(work), path_(std::filesystem::path(data_dir) / kStatusFile) {}

void StatusFile::write(const RunningServices& running, bool refresh) {
  if (in_flight_) return;
  nlohmann::ordered_json services = nlohmann::ordered_json::object();
  for (const auto& [name, service] : running.services()) {
    nlohmann::ordered_json listeners = nlohmann::ordered_json::array();
    for (const auto& b : service->bind_status()) {
      listeners.push_back({{"bind", b.spec.str()}, {"kind", b.kind()}, {"listening", b.listening},
                           {"superseded", b.superseded}, {"error", b.error}});
    }
    const auto& st = service->stats();
    const auto& counters = service->policy().counters();
    auto applied = running.applied().find(name);
    nlohmann::ordered_json tls = nullptr;
    if (auto t = running.tls().find(name); t != running.tls().end()) {
      tls = {{"certificate", t->second.context ? t->second.context->summary() : ""}, {"error", t->second.error}};
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
                        {"policy_checks", counters.checks}}},
                      {"active_blocks", service->policy().guard().block_count()}};
  }
  nlohmann::ordered_json doc = {{"pid", static_cast<int64_t>(getpid())}, {"started_at", started_at_},
                                {"user", user_}, {"services", std::move(services)}};
  doc["metrics"] = metrics_.bind.empty() ? nlohmann::ordered_json()
                                         : nlohmann::ordered_json{{"bind", metrics_.bind},
                                                                  {"listening", metrics_.listening},
                                                                  {"error", metrics_.error}};
  std::string body = doc.dump(2);
  if (body == last_ && !refresh) return;
  last_ = body;
  doc["updated_at"] = static_cast<int64_t>(std::time(nullptr));
  in_flight_ = true;
  std::weak_ptr<int> alive = alive_;
  work_.submit(
      [path = path_, text = doc.dump(2) + "\n"] {
        std::error_code ec;
        std::filesystem::create_directories(path.parent_path(), ec);
        auto tmp = path;
        tmp += ".tmp";
        {
          // Checked after close(): the text is written at the flush, and on a full disk a
          // failed flush must not put an empty or cut file in place of the last good one.
          std::ofstream out(tmp, std::ios::trunc);
          out << text;
          out.close();
          if (!out) {
            std::filesystem::remove(tmp, ec);
            return;
          }
        }
        std::filesystem::rename(tmp, path, ec);
      },
      [this, alive] {
        if (!alive.expired()) in_flight_ = false;
      });
}

void StatusFile::remove() {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

}  // namespace mailroom::daemon
