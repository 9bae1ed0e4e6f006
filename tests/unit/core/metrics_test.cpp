// The metrics registry (families, series, bounds, threads), the OpenMetrics / Prometheus text
// renderer and the scrape endpoint's request parsing and responses, without sockets.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/metrics/exposition.h"
#include "core/metrics/registry.h"
#include "core/metrics/scrape_request.h"

namespace metrics = mailroom::metrics;
using metrics::TextFormat;

TEST_CASE("a counter family renders with _total, HELP, TYPE and escaped labels") {
  metrics::Registry r;
  auto& logins = r.counter("mailroom_logins", "Login attempts.", {"service", "outcome"});
  logins.with({"pop3", "ok"}).inc();
  logins.with({"pop3", "ok"}).inc(2);
  logins.with({"we\"ird\\\n", "failed"}).inc();
  const std::string om = metrics::render(r.collect(), TextFormat::kOpenMetrics);
  CHECK(om ==
        "# HELP mailroom_logins Login attempts.\n"
        "# TYPE mailroom_logins counter\n"
        "mailroom_logins_total{service=\"pop3\",outcome=\"ok\"} 3\n"
        "mailroom_logins_total{service=\"we\\\"ird\\\\\\n\",outcome=\"failed\"} 1\n"
        "# EOF\n");
  const std::string prom = metrics::render(r.collect(), TextFormat::kPrometheus);
  CHECK(prom.find("# TYPE mailroom_logins_total counter\n") != std::string::npos);
  CHECK(prom.find("# HELP mailroom_logins_total Login attempts.\n") != std::string::npos);
  CHECK(prom.find("# EOF") == std::string::npos);
}

TEST_CASE("gauges and unlabelled families") {
  metrics::Registry r;
  auto& g = r.gauge("mailroom_things", "Things.\nSecond line with a \\.");
  g.with({}).set(2.5);
  g.with({}).add(-1);
  CHECK(metrics::render(r.collect(), TextFormat::kPrometheus) ==
        "# HELP mailroom_things Things.\\nSecond line with a \\\\.\n"
        "# TYPE mailroom_things gauge\n"
        "mailroom_things 1.5\n");
}

TEST_CASE("a histogram renders cumulative buckets, +Inf, _sum and _count") {
  metrics::Registry r;
  auto& h = r.histogram("mailroom_session_duration_seconds", "Session length.", {"service"}, {0.5, 1, 10});
  auto& pop = h.with({"pop3"});
  pop.observe(0.25);
  pop.observe(0.5);  // le is inclusive
  pop.observe(3);
  pop.observe(100);
  CHECK(metrics::render(r.collect(), TextFormat::kOpenMetrics) ==
        "# HELP mailroom_session_duration_seconds Session length.\n"
        "# TYPE mailroom_session_duration_seconds histogram\n"
        "mailroom_session_duration_seconds_bucket{service=\"pop3\",le=\"0.5\"} 2\n"
        "mailroom_session_duration_seconds_bucket{service=\"pop3\",le=\"1.0\"} 2\n"
        "mailroom_session_duration_seconds_bucket{service=\"pop3\",le=\"10.0\"} 3\n"
        "mailroom_session_duration_seconds_bucket{service=\"pop3\",le=\"+Inf\"} 4\n"
        "mailroom_session_duration_seconds_sum{service=\"pop3\"} 103.75\n"
        "mailroom_session_duration_seconds_count{service=\"pop3\"} 4\n"
        "# EOF\n");
}

TEST_CASE("values are written as integers, shortest floats and infinities") {
  CHECK(metrics::format_value(0) == "0");
  CHECK(metrics::format_value(1796500000) == "1796500000");
  CHECK(metrics::format_value(0.1) == "0.1");
  CHECK(metrics::format_value(1.5e21) == "1.5e+21");
  CHECK(metrics::format_value(1.0 / 0.0) == "+Inf");
  CHECK(metrics::format_value(-1.0 / 0.0) == "-Inf");
  CHECK(metrics::escape_label_value("a\"b\\c\nd") == "a\\\"b\\\\c\\nd");
}

TEST_CASE("families keep their declaration order; a name declared again is the same family") {
  metrics::Registry r;
  auto& a = r.counter("b_first", "B.", {"x"});
  r.gauge("a_second", "A.");
  CHECK(&r.counter("b_first", "B.", {"x"}) == &a);
  CHECK_THROWS_AS(r.gauge("b_first", "B."), std::logic_error);
  CHECK_THROWS_AS(r.counter("b_first", "B.", {"y"}), std::logic_error);
  CHECK_THROWS_AS(r.histogram("h", "H.", {}, {2, 1}), std::logic_error);
  auto families = r.collect();
  REQUIRE(families.size() == 2);
  CHECK(families[0].name == "b_first");
  CHECK(families[1].name == "a_second");
}

TEST_CASE("series are bounded; a wrong label count gets the unexported series") {
  metrics::Registry r;
  auto& f = r.counter("c", "C.", {"k"});
  for (std::size_t i = 0; i < metrics::CounterFamily::kMaxSeries + 10; ++i) f.with({std::to_string(i)}).inc();
  f.with({"a", "b"}).inc();
  auto families = r.collect();
  CHECK(families[0].samples.size() == metrics::CounterFamily::kMaxSeries);
}

TEST_CASE("updates from several threads are all counted") {
  metrics::Registry r;
  auto& c = r.counter("c", "C.", {"k"});
  auto& h = r.histogram("h", "H.", {}, {1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.with({"x"}).inc();
        h.with({}).observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(c.with({"x"}).value() == 40000);
  auto families = r.collect();
  CHECK(families[1].histograms[0].count == 40000);
  CHECK(families[1].histograms[0].sum == doctest::Approx(20000));
}

namespace {
metrics::RequestHeadParser parse(std::initializer_list<std::string_view> lines) {
  metrics::RequestHeadParser p;
  for (auto line : lines) p.add_line(line);
  return p;
}
std::string status_line(const std::string& response) { return response.substr(0, response.find("\r\n")); }
const auto kRender = [](TextFormat f) { return f == TextFormat::kOpenMetrics ? std::string("om\n# EOF\n") : std::string("prom\n"); };
}  // namespace

TEST_CASE("GET /metrics: the format follows the Accept header") {
  auto p = parse({"GET /metrics HTTP/1.1", "Host: x", "Accept: application/openmetrics-text;version=1.0.0,text/plain;q=0.5", ""});
  REQUIRE(p.state() == metrics::RequestHeadParser::State::kComplete);
  std::string r = metrics::respond(p, kRender);
  CHECK(status_line(r) == "HTTP/1.1 200 OK");
  CHECK(r.find("Content-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n") != std::string::npos);
  CHECK(r.find("Connection: close\r\n") != std::string::npos);
  CHECK(r.find("Content-Length: 9\r\n") != std::string::npos);
  CHECK(r.substr(r.size() - 9) == "om\n# EOF\n");

  auto plain = parse({"", "GET /metrics?x=1 HTTP/1.0", ""});  // a leading empty line is ignored
  r = metrics::respond(plain, kRender);
  CHECK(status_line(r) == "HTTP/1.1 200 OK");
  CHECK(r.find("Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n") != std::string::npos);
  CHECK(r.substr(r.size() - 5) == "prom\n");

  r = metrics::respond(parse({"HEAD /metrics HTTP/1.1", ""}), kRender);
  CHECK(status_line(r) == "HTTP/1.1 200 OK");
  CHECK(r.substr(r.size() - 4) == "\r\n\r\n");
}

TEST_CASE("other paths, methods and malformed or oversized heads") {
  CHECK(status_line(metrics::respond(parse({"GET / HTTP/1.1", ""}), kRender)) == "HTTP/1.1 404 Not Found");
  CHECK(status_line(metrics::respond(parse({"GET /metricsx HTTP/1.1", ""}), kRender)) == "HTTP/1.1 404 Not Found");
  std::string post = metrics::respond(parse({"POST /metrics HTTP/1.1", "Content-Length: 0", ""}), kRender);
  CHECK(status_line(post) == "HTTP/1.1 405 Method Not Allowed");
  CHECK(post.find("Allow: GET, HEAD\r\n") != std::string::npos);
  for (auto bad : {"GET /metrics", "GET /metrics HTTP/2.0", "GET  /metrics HTTP/1.1", "GET metrics HTTP/1.1",
                   "G(T /metrics HTTP/1.1", "GET /metrics HTTP/1.1 extra"}) {
    auto p = parse({bad, ""});
    CHECK(p.state() == metrics::RequestHeadParser::State::kMalformed);
    CHECK(status_line(metrics::respond(p, kRender)) == "HTTP/1.1 400 Bad Request");
  }
  for (auto bad_header : {"no colon", " folded: x", "Bad Name: x", ": empty name"}) {
    CHECK(parse({"GET /metrics HTTP/1.1", bad_header, ""}).state() == metrics::RequestHeadParser::State::kMalformed);
  }
  metrics::RequestHeadParser big;
  big.add_line("GET /metrics HTTP/1.1");
  const std::string filler = "X-Filler: " + std::string(1000, 'a');
  for (int i = 0; i < 9; ++i) big.add_line(filler);
  CHECK(big.state() == metrics::RequestHeadParser::State::kTooLarge);
  CHECK(big.add_line("") == metrics::RequestHeadParser::State::kTooLarge);
  CHECK(status_line(metrics::respond(big, kRender)) == "HTTP/1.1 431 Request Header Fields Too Large");
  metrics::RequestHeadParser many;
  many.add_line("GET /metrics HTTP/1.1");
  for (int i = 0; i < 200; ++i) many.add_line("A: b");
  CHECK(many.state() == metrics::RequestHeadParser::State::kTooLarge);
}
