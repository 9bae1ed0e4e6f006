// Status file: DATA/run/status.json built from the running services, replaced whole (tmp + rename).
#include "daemon/status_file.h"

#include <ctime>
#include <fstream>
#include <system_error>

#include <nlohmann/json.hpp>

#include "core/base/time_text.h"

namespace mailroom::daemon {

namespace {
constexpr const char* kStatusFile = "run/status.json";
}  // namespace

StatusFile::StatusFile(core::WorkQueue& work, const std::string& data_dir)
    : work_(work), path_(std::filesystem::path(data_dir) / kStatusFile) {}

void StatusFile::write(const DaemonInfo& info, const RunningServices& running, bool refresh) {
  if (in_flight_) return;
  nlohmann::ordered_json doc = status_report(info, running);
  std::string body = doc.dump(2);
  if (body == last_ && !refresh) return;
  last_ = body;
  doc["updated_at"] = rfc3339_utc(static_cast<int64_t>(std::time(nullptr)));
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
