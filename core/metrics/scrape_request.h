// A scrape: the HTTP/1.0 or 1.1 request head a Prometheus-style scraper sends (line by line, as
// the connection cuts it), and the one response the metrics endpoint gives before it closes.
// Pure: no sockets; the endpoint feeds lines and writes what respond() returns.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "core/metrics/exposition.h"

namespace mailroom::metrics {

struct RequestHead {
  std::string method;
  std::string path;    // the target without its query
  std::string accept;  // the Accept header (the last one), empty when none
};

class RequestHeadParser {
 public:
  // The request line and header lines with their endings: a larger head is answered 431.
  static constexpr std::size_t kMaxHeadBytes = 8192;
  static constexpr std::size_t kMaxHeaderLines = 100;

  enum class State { kIncomplete, kComplete, kMalformed, kTooLarge };

  // One line without its ending (CRLF or LF). Once the state is not kIncomplete, further lines
  // change nothing.
  State add_line(std::string_view line);
  State state() const { return state_; }
  const RequestHead& head() const { return head_; }

 private:
  void header(std::string_view line);

  State state_ = State::kIncomplete;
  RequestHead head_;
  bool have_request_line_ = false;
  std::size_t bytes_ = 0;
  std::size_t lines_ = 0;
};

// The format the Accept header asks for: OpenMetrics when it names application/openmetrics-text.
TextFormat negotiate(std::string_view accept);

// A whole HTTP/1.1 response with Content-Type, Content-Length and Connection: close.
std::string http_response(int status, std::string_view content_type, std::string_view body, bool head_only = false,
                          std::string_view extra_headers = {});

// The response to a parsed head: GET (or HEAD) /metrics gets `render(format)`; another path 404,
// another method 405, a malformed head 400, one too large 431.
std::string respond(const RequestHeadParser& parser, const std::function<std::string(TextFormat)>& render);

}  // namespace mailroom::metrics
