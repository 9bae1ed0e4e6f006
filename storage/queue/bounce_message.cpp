// The bounce message (see bounce_message.h): RFC 3464 multipart/report with a human part, a
// message/delivery-status part and a text/rfc822-headers part.
#include "storage/queue/bounce_message.h"

#include <cctype>

#include "core/base/time_text.h"

namespace mailroom::storage {

namespace {

// Header and DSN fields stay one line each, well under 998 octets.
constexpr std::size_t kMaxFieldText = 900;

// One line of text for a header field: controls (CR, LF, TAB, ...) become spaces, cut short.
std::string one_line(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxFieldText)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? ' ' : c;
  }
  return out;
}

// "5.1.1" from a reply like "550 5.1.1 no such user", or "" when it carries no enhanced code.
std::string enhanced_code(std::string_view reply) {
  if (reply.size() < 9 || (reply[3] != ' ' && reply[3] != '-')) return "";
  std::string_view rest = reply.substr(4);
  std::size_t end = rest.find(' ');
  std::string_view code = rest.substr(0, end);
  int dots = 0;
  for (char c : code) {
    if (c == '.') {
      ++dots;
    } else if (!std::isdigit(static_cast<unsigned char>(c))) {
      return "";
    }
  }
  if (dots != 2 || (code[0] != '4' && code[0] != '5') || code[1] != '.') return "";
  return std::string(code);
}

}  // namespace

std::string bounce_header_excerpt(std::string_view message_start) {
  std::string out;
  std::size_t pos = 0;
  while (pos < message_start.size()) {
    std::size_t lf = message_start.find('\n', pos);
    if (lf == std::string_view::npos) break;  // a partial last line is left out
    std::string_view line = message_start.substr(pos, lf - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the end of the header
    if (out.size() + line.size() + 2 > kBounceHeaderExcerptBytes) break;
    out.append(line).append("\r\n");
    pos = lf + 1;
  }
  return out;
}

std::string bounce_reason_refused() { return "refused by the smarthost"; }

std::string bounce_reason_expired(int64_t lifetime_seconds) {
  const int64_t days = lifetime_seconds / 86400;
  if (days * 86400 == lifetime_seconds) {
    return "not delivered within queue_lifetime (" + std::to_string(days) + (days == 1 ? " day)" : " days)");
  }
  return "not delivered within queue_lifetime (" + std::to_string(lifetime_seconds) + " seconds)";
}

Result<std::string> build_bounce_message(const BounceRequest& r) {
  if (r.entry.sender.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no bounce for " + r.entry.id + ": it has no sender");
  }
  if (r.failed.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "no bounce for " + r.entry.id + ": no failed recipient");
  }
  const std::string host = one_line(r.host);
  const std::string sender = one_line(r.entry.sender);
  const bool expired = r.reason.find("queue_lifetime") != std::string::npos;
  // A boundary that appears nowhere in what goes inside.
  std::string boundary = "=_mailroom_bounce_" + one_line(r.entry.id);
  for (int n = 1; r.original_header.find(boundary) != std::string::npos; ++n) {
    boundary = "=_mailroom_bounce_" + std::to_string(n) + "_" + one_line(r.entry.id);
  }

  std::string m;
  m += "From: Mail Delivery System <MAILER-DAEMON@" + host + ">\r\n";
  m += "To: <" + sender + ">\r\n";
  m += "Subject: Undelivered Mail Returned to Sender\r\n";
  m += "Date: " + rfc5322_date(r.now) + "\r\n";
  m += "Message-ID: <bounce." + one_line(r.entry.id) + "." + std::to_string(r.now) + "@" + host + ">\r\n";
  m += "Auto-Submitted: auto-replied\r\n";
  m += "MIME-Version: 1.0\r\n";
  m += "Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"" + boundary + "\"\r\n";
  m += "\r\nThis is a MIME-encapsulated message.\r\n\r\n";

  m += "--" + boundary + "\r\n";
  m += "Content-Description: Notification\r\n";
  m += "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  m += "This is the mail system at host " + host + ".\r\n\r\n";
  m += "Your message could not be delivered to one or more recipients: " + one_line(r.reason) + ".\r\n\r\n";
  for (const auto& f : r.failed) {
    m += "<" + one_line(f.address) + ">: " + (f.last_reply.empty() ? "no reply" : one_line(f.last_reply)) + "\r\n";
  }
  m += "\r\n";

  m += "--" + boundary + "\r\n";
  m += "Content-Description: Delivery report\r\n";
  m += "Content-Type: message/delivery-status\r\n\r\n";
  m += "Reporting-MTA: dns; " + host + "\r\n";
  m += "X-Mailroom-Queue-ID: " + one_line(r.entry.id) + "\r\n";
  if (r.entry.queued_at > 0) m += "Arrival-Date: " + rfc5322_date(r.entry.queued_at) + "\r\n";
  for (const auto& f : r.failed) {
    std::string status = enhanced_code(f.last_reply);
    if (status.empty()) status = expired ? "4.4.7" : "5.0.0";
    m += "\r\nFinal-Recipient: rfc822; " + one_line(f.address) + "\r\n";
    m += "Action: failed\r\n";
    m += "Status: " + status + "\r\n";
    if (!f.last_reply.empty()) m += "Diagnostic-Code: smtp; " + one_line(f.last_reply) + "\r\n";
    if (r.entry.last_attempt_at > 0) m += "Last-Attempt-Date: " + rfc5322_date(r.entry.last_attempt_at) + "\r\n";
  }
  m += "\r\n";

  m += "--" + boundary + "\r\n";
  m += "Content-Description: Undelivered Message Headers\r\n";
  m += "Content-Type: text/rfc822-headers\r\n\r\n";
  m += r.original_header;
  if (!r.original_header.empty() && !r.original_header.ends_with("\r\n")) m += "\r\n";
  m += "\r\n--" + boundary + "--\r\n";
  return m;
}

}  // namespace mailroom::storage
