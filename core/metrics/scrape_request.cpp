// Request head parsing and the endpoint's responses.
#include "core/metrics/scrape_request.h"

#include <algorithm>
#include <cctype>

#include "core/base/ascii.h"

namespace mailroom::metrics {

namespace {

bool is_token_char(char c) {
  // RFC 9110 tchar
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char); }


std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

const char* reason_phrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

}  // namespace

RequestHeadParser::State RequestHeadParser::add_line(std::string_view line) {
  if (state_ != State::kIncomplete) return state_;
  bytes_ += line.size() + 2;
  if (bytes_ > kMaxHeadBytes || ++lines_ > kMaxHeaderLines) return state_ = State::kTooLarge;
  if (!have_request_line_) {
    if (line.empty()) return state_;  // RFC 9112 2.2: an empty line before the request line is ignored
    // METHOD SP request-target SP HTTP/1.x
    const auto sp1 = line.find(' ');
    const auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
    if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) {
      return state_ = State::kMalformed;
    }
    std::string_view method = line.substr(0, sp1);
    std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string_view version = line.substr(sp2 + 1);
    if (!is_token(method) || target.empty() || target.front() != '/' ||
        (version != "HTTP/1.0" && version != "HTTP/1.1")) {
      return state_ = State::kMalformed;
    }
    head_.method = method;
    head_.path = target.substr(0, target.find('?'));
    have_request_line_ = true;
    return state_;
  }
  if (line.empty()) return state_ = State::kComplete;
  header(line);
  return state_;
}

void RequestHeadParser::header(std::string_view line) {
  const auto colon = line.find(':');
  // No name, whitespace before the colon or a folded line (leading whitespace): RFC 9112 5.
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon))) {
    state_ = State::kMalformed;
    return;
  }
  if (ascii_iequals(line.substr(0, colon), "accept")) head_.accept = trim(line.substr(colon + 1));
}

TextFormat negotiate(std::string_view accept) {
  return accept.find("application/openmetrics-text") != std::string_view::npos ? TextFormat::kOpenMetrics
                                                                                : TextFormat::kPrometheus;
}

std::string http_response(int status, std::string_view content_type, std::string_view body, bool head_only,
                          std::string_view extra_headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + ' ' + reason_phrase(status) + "\r\n";
  out += "Content-Type: ";
  out += content_type;
  out += "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  out += extra_headers;
  out += "Connection: close\r\n\r\n";
  if (!head_only) out += body;
  return out;
}

std::string respond(const RequestHeadParser& parser, const std::function<std::string(TextFormat)>& render) {
  switch (parser.state()) {
    case RequestHeadParser::State::kIncomplete:
    case RequestHeadParser::State::kMalformed:
      return http_response(400, kTextPlain, "malformed request\n");
    case RequestHeadParser::State::kTooLarge:
      return http_response(431, kTextPlain, "request head too large\n");
    case RequestHeadParser::State::kComplete:
      break;
  }
  const RequestHead& head = parser.head();
  const bool head_only = head.method == "HEAD";
  if (head.method != "GET" && !head_only) {
    return http_response(405, kTextPlain, "only GET is served\n", false, "Allow: GET, HEAD\r\n");
  }
  if (head.path != "/metrics") return http_response(404, kTextPlain, "not found: the metrics are at /metrics\n", head_only);
  const TextFormat format = negotiate(head.accept);
  return http_response(200, content_type(format), render(format), head_only);
}

}  // namespace mailroom::metrics
