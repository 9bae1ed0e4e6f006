// stderr, file and syslog sinks.
#include "core/log/log_sink.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>

namespace mailroom::log {

namespace {

// Tells the operator about a sink that cannot write, on stderr (the writer thread's own
// trouble cannot go through the queue it serves).
void report(std::string_view event, std::string_view target, std::string_view error) {
  const Field fields[] = {{"target", std::string(target)}, {"error", std::string(error)}};
  const std::string line =
      format_line(Format::kKv, {std::chrono::system_clock::now(), Level::kError, event, fields});
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

// Writes all of `data` to `fd` (retrying after EINTR and short writes); false on an error.
bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

class Fd {
 public:
  Fd() = default;
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_ = -1;
};

// A sink that could not open retries at most this often (every line would be a failed open).
constexpr auto kRetryOpenAfter = std::chrono::seconds(1);

class StderrSink final : public Sink {
 public:
  void write(Level, std::string_view line) override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
  }
  bool queued() const override { return false; }

 private:
  std::mutex mutex_;
};

// Appends to a file, created 0640 if missing; reopened after reopen() (SIGHUP, log rotation).
class FileSink final : public Sink {
 public:
  explicit FileSink(std::string path) : path_(std::move(path)) {}
  void write(Level, std::string_view line) override {
    if (!fd_ && !open()) return;
    if (!write_all(fd_.get(), line)) {
      report("log.write_failed", "file:" + path_, std::strerror(errno));
      fd_.reset();  // opened again by the next line
    }
  }
  void reopen() override {
    fd_.reset();
    failed_at_.reset();
    open();  // the new file exists right after the rotation, even before the next line
  }
  bool joins_lines() const override { return true; }

 private:
  bool open() {
    const auto now = std::chrono::steady_clock::now();
    if (failed_at_ && now - *failed_at_ < kRetryOpenAfter) return false;
    const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640);
    if (fd < 0) {
      if (!failed_at_) report("log.open_failed", "file:" + path_, std::strerror(errno));
      failed_at_ = now;
      return false;
    }
    failed_at_.reset();
    fd_.reset(fd);
    return true;
  }

  std::string path_;
  Fd fd_;
  std::optional<std::chrono::steady_clock::time_point> failed_at_;
};

// Datagrams to the local syslog socket, connected on first use and again after an error.
class SyslogSink final : public Sink {
 public:
  explicit SyslogSink(int facility) : facility_(facility) {
    const char* env = std::getenv(kSyslogSocketEnv);
    path_ = env != nullptr && *env != '\0' ? env : kSyslogSocket;
  }
  void write(Level level, std::string_view line) override {
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    const std::string datagram = syslog_datagram(facility_, level, "mailroomd", static_cast<long>(::getpid()), line);
    for (int attempt = 0; attempt < 2; ++attempt) {  // the second after reconnecting (syslogd restarted)
      if (!fd_ && !connect()) return;
      if (::send(fd_.get(), datagram.data(), datagram.size(), MSG_NOSIGNAL) >= 0) return;
      if (errno == EMSGSIZE || errno == ENOBUFS || errno == EAGAIN) return;  // this line only
      fd_.reset();
    }
  }
  bool wants_time() const override { return false; }

 private:
  bool connect() {
    const auto now = std::chrono::steady_clock::now();
    if (failed_at_ && now - *failed_at_ < kRetryOpenAfter) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path_.size() >= sizeof addr.sun_path) {
      report("log.open_failed", "syslog:" + path_, "socket path too long");
      failed_at_ = now;
      return false;
    }
    std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
    Fd fd;
    fd.reset(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd || ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      if (!failed_at_) report("log.open_failed", "syslog:" + path_, std::strerror(errno));
      failed_at_ = now;
      return false;
    }
    failed_at_.reset();
    fd_.reset(fd.release());
    return true;
  }

  int facility_;
  std::string path_;
  Fd fd_;
  std::optional<std::chrono::steady_clock::time_point> failed_at_;
};

}  // namespace

int syslog_facility_code(std::string_view name) {
  if (name == "user") return 1;
  if (name == "mail") return 2;
  if (name == "daemon") return 3;
  if (name.size() == 6 && name.starts_with("local") && name[5] >= '0' && name[5] <= '7') return 16 + (name[5] - '0');
  return -1;
}

std::string syslog_datagram(int facility, Level level, std::string_view tag, long pid, std::string_view message) {
  int severity = 6;
  switch (level) {
    case Level::kDebug: severity = 7; break;
    case Level::kInfo: severity = 6; break;
    case Level::kWarn: severity = 4; break;
    case Level::kError: severity = 3; break;
  }
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char head[96];
  std::snprintf(head, sizeof head, "<%d>%s %2d %02d:%02d:%02d ", facility * 8 + severity, kMonths[tm.tm_mon % 12],
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  std::string out = head;
  out.append(tag);
  out += '[' + std::to_string(pid) + "]: ";
  const std::size_t room = out.size() < kMaxSyslogMessageBytes ? kMaxSyslogMessageBytes - out.size() : 0;
  out.append(message.substr(0, room));
  return out;
}

std::shared_ptr<Sink> make_sink(std::string_view target) {
  if (target == "stderr") return std::make_shared<StderrSink>();
  if (target.starts_with("file:") && target.size() > 6 && target[5] == '/') {
    return std::make_shared<FileSink>(std::string(target.substr(5)));
  }
  if (target == "syslog") return std::make_shared<SyslogSink>(syslog_facility_code("mail"));
  if (target.starts_with("syslog:")) {
    const int code = syslog_facility_code(target.substr(7));
    if (code >= 0) return std::make_shared<SyslogSink>(code);
  }
  return nullptr;
}

}  // namespace mailroom::log
