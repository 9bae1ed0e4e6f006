// The log system: kv and json lines, levels, routing of a service's events, the bounded writer
// queue (drops counted and reported), file reopening, syslog datagrams, transcript redaction.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "core/log/log_format.h"
#include "core/log/log_router.h"
#include "core/log/log_sink.h"
#include "core/log/log_writer.h"
#include "core/log/transcript.h"

using namespace mailroom::log;

namespace {

const auto kWhen = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796493360123));  // 2026-12-05T17:56:00.123Z

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/mailroom-log-test-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path path;
};

// A queued sink whose writes wait until released: the writer's queue fills behind it.
struct GatedSink : Sink {
  void write(Level, std::string_view line) override {
    std::unique_lock<std::mutex> lock(mutex);
    ++started;
    changed.notify_all();
    changed.wait(lock, [this] { return open; });
    lines.emplace_back(line);
  }
  void release() {
    std::lock_guard<std::mutex> lock(mutex);
    open = true;
    changed.notify_all();
  }
  void wait_started() {
    std::unique_lock<std::mutex> lock(mutex);
    changed.wait(lock, [this] { return started > 0; });
  }
  std::mutex mutex;
  std::condition_variable changed;
  bool open = false;
  int started = 0;
  std::vector<std::string> lines;
};

}  // namespace

TEST_CASE("kv lines: time, level, event, then fields; values quoted when needed") {
  const Field fields[] = {{"sid", "12"}, {"error", "no such \"file\""}, {"line", "a=b\r\n"}, {"empty", ""}};
  CHECK(format_line(Format::kKv, {kWhen, Level::kWarn, "pop3.login", fields}) ==
        "2026-12-05T17:56:00.123Z level=warn event=pop3.login sid=12 error=\"no such \\\"file\\\"\" "
        "line=\"a=b\\x0d\\x0a\" empty=\"\"\n");
  CHECK(format_line(Format::kKv, {kWhen, Level::kInfo, "daemon.start", {}}, /*with_time=*/false) ==
        "level=info event=daemon.start\n");
}

TEST_CASE("json lines parse back with every field, control bytes escaped, bad UTF-8 replaced") {
  const Field fields[] = {{"service", "pop3"}, {"line", "PASS <redacted>\t\"x\"\\"}, {"user", "b\xc3\xa9\xff"}};
  const std::string line = format_line(Format::kJson, {kWhen, Level::kInfo, "transcript", fields});
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  const auto parsed = nlohmann::json::parse(line);
  CHECK(parsed["time"] == "2026-12-05T17:56:00.123Z");
  CHECK(parsed["level"] == "info");
  CHECK(parsed["event"] == "transcript");
  CHECK(parsed["service"] == "pop3");
  CHECK(parsed["line"] == "PASS <redacted>\t\"x\"\\");
  CHECK(parsed["user"] == "b\xc3\xa9\xef\xbf\xbd");
  CHECK(line.rfind("{\"time\":", 0) == 0);  // the order: time, level, event, fields
}

TEST_CASE("levels and formats parse; nothing else does") {
  CHECK(parse_level("debug") == Level::kDebug);
  CHECK(parse_level("error") == Level::kError);
  CHECK_FALSE(parse_level("verbose"));
  CHECK(parse_format("json") == Format::kJson);
  CHECK_FALSE(parse_format(""));
}

TEST_CASE("the router filters by level and sends a service's events to its own target") {
  TempDir dir;
  const auto daemon_log = dir.path / "daemon.log";
  const auto pop3_log = dir.path / "pop3.log";
  {
    LogRouter router;
    router.configure_daemon({"file:" + daemon_log.string(), "info", "kv"});
    CHECK_FALSE(router.enabled(Level::kDebug));
    router.configure_service("pop3", {"file:" + pop3_log.string(), "debug", "json"});
    CHECK(router.enabled(Level::kDebug));  // some route wants debug events
    router.configure_service("lmtp", {"", "error", ""});  // the daemon's file, fewer events

    const Field pop3[] = {{"service", "pop3"}, {"sid", "1"}};
    const Field smtp[] = {{"service", "smtp"}, {"sid", "2"}};
    const Field lmtp[] = {{"service", "lmtp"}, {"sid", "3"}};
    router.emit(Level::kDebug, "daemon.debug", {});
    router.emit(Level::kInfo, "daemon.start", {});
    router.emit(Level::kDebug, "pop3.stls", pop3);
    router.emit(Level::kInfo, "pop3.login", pop3);
    router.emit(Level::kInfo, "smtp.connect", smtp);  // no route of its own: the daemon's
    router.emit(Level::kWarn, "lmtp.line_too_long", lmtp);
    router.emit(Level::kError, "lmtp.broken", lmtp);
    router.flush();

    const auto daemon_lines = lines_of(read_file(daemon_log));
    REQUIRE(daemon_lines.size() == 3);
    CHECK(daemon_lines[0].find("level=info event=daemon.start") != std::string::npos);
    CHECK(daemon_lines[1].find("event=smtp.connect service=smtp sid=2") != std::string::npos);
    CHECK(daemon_lines[2].find("event=lmtp.broken") != std::string::npos);
    const auto pop3_lines = lines_of(read_file(pop3_log));
    REQUIRE(pop3_lines.size() == 2);
    CHECK(nlohmann::json::parse(pop3_lines[0])["event"] == "pop3.stls");
    CHECK(nlohmann::json::parse(pop3_lines[1])["level"] == "info");

    // A service that drops its settings follows the daemon again.
    router.configure_service("pop3", {});
    CHECK_FALSE(router.enabled(Level::kDebug));
    router.emit(Level::kInfo, "pop3.logout", pop3);
    router.flush();
    CHECK(read_file(daemon_log).find("event=pop3.logout") != std::string::npos);
  }
  struct stat st {};
  REQUIRE(::stat(daemon_log.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
}

TEST_CASE("a reopened file target writes to a new file at its path (log rotation)") {
  TempDir dir;
  const auto log = dir.path / "mail.log";
  LogRouter router;
  router.configure_daemon({"file:" + log.string(), "info", "kv"});
  router.emit(Level::kInfo, "before.rotation", {});
  router.flush();
  std::filesystem::rename(log, dir.path / "mail.log.1");
  router.emit(Level::kInfo, "still.old", {});  // not reopened yet: the renamed file
  router.reopen_files();
  router.emit(Level::kInfo, "after.rotation", {});
  router.flush();
  const std::string old_text = read_file(dir.path / "mail.log.1");
  const std::string new_text = read_file(log);
  CHECK(old_text.find("before.rotation") != std::string::npos);
  CHECK(old_text.find("still.old") != std::string::npos);
  CHECK(new_text.find("after.rotation") != std::string::npos);
  CHECK(new_text.find("before.rotation") == std::string::npos);
}

TEST_CASE("a full queue drops lines, counts them, and reports the count once there is room") {
  LogWriter writer(64);  // bytes
  auto sink = std::make_shared<GatedSink>();
  auto notice = [](uint64_t count) { return "log.dropped count=" + std::to_string(count) + "\n"; };
  const std::string line(20, 'x');
  CHECK(writer.submit(sink, Level::kInfo, line + "1", notice));
  sink->wait_started();  // the writer is writing line 1: its bytes count until it is written
  CHECK(writer.submit(sink, Level::kInfo, line + "2", notice));
  CHECK(writer.submit(sink, Level::kInfo, line + "3", notice));
  CHECK_FALSE(writer.submit(sink, Level::kInfo, line + "4", notice));  // 4 * 21 bytes > 64
  CHECK_FALSE(writer.submit(sink, Level::kInfo, line + "5", notice));
  CHECK(sink->dropped == 2);
  sink->release();
  writer.flush();
  CHECK(writer.queued_bytes() == 0);
  CHECK(writer.submit(sink, Level::kInfo, line + "6", notice));
  writer.flush();
  CHECK(sink->dropped == 0);
  const std::vector<std::string> expected = {line + "1", line + "2", line + "3", "log.dropped count=2\n", line + "6"};
  CHECK(sink->lines == expected);
}

TEST_CASE("stopped writers write at once (after shutdown nothing is lost)") {
  LogWriter writer(1024);
  auto sink = std::make_shared<GatedSink>();
  sink->release();
  writer.stop();
  CHECK(writer.submit(sink, Level::kInfo, "late\n", [](uint64_t) { return std::string(); }));
  CHECK(sink->lines == std::vector<std::string>{"late\n"});
}

TEST_CASE("syslog datagrams are RFC 3164 as syslog(3) sends them locally") {
  CHECK(syslog_facility_code("mail") == 2);
  CHECK(syslog_facility_code("daemon") == 3);
  CHECK(syslog_facility_code("local7") == 23);
  CHECK(syslog_facility_code("local8") == -1);
  const std::string d = syslog_datagram(2, Level::kInfo, "mailroomd", 42, "level=info event=x");
  CHECK(d.rfind("<22>", 0) == 0);  // mail.info
  CHECK(d.size() == std::string("<22>Dec  5 17:56:00 ").size() + std::string("mailroomd[42]: level=info event=x").size());
  CHECK(d.find(" mailroomd[42]: level=info event=x") != std::string::npos);
  CHECK(syslog_datagram(19, Level::kWarn, "t", 1, "m").rfind("<156>", 0) == 0);  // local3.warning
  CHECK(syslog_datagram(2, Level::kError, "t", 1, std::string(20000, 'a')).size() == kMaxSyslogMessageBytes);
}

TEST_CASE("make_sink knows the validated targets only") {
  CHECK(make_sink("stderr") != nullptr);
  CHECK_FALSE(make_sink("stderr")->queued());
  CHECK(make_sink("file:/var/log/mailroom.log")->queued());
  CHECK_FALSE(make_sink("syslog:local0")->wants_time());
  CHECK(make_sink("syslog:kern") == nullptr);
  CHECK(make_sink("file:relative") == nullptr);
}

TEST_CASE("redact_after keeps the first words and replaces the rest") {
  CHECK(redact_after("PASS secret", 1) == "PASS <redacted>");
  CHECK(redact_after("PASS", 1) == "PASS");
  CHECK(redact_after("PASS   ", 1) == "PASS");
  CHECK(redact_after("AUTH PLAIN AGFhAGI=", 2) == "AUTH PLAIN <redacted>");
  CHECK(redact_after("AUTH\tPLAIN\tAGFhAGI=", 2) == "AUTH\tPLAIN <redacted>");
  CHECK(redact_after("", 0) == "<redacted>");
  CHECK(redact_after("anything", 0) == "<redacted>");
  CHECK(first_word("  PASS\tx") == "PASS");
  CHECK(first_word("") == "");
}
