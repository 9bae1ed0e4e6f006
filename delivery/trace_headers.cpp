// Return-Path and Received header fields (RFC 5321 4.4, RFC 5322 3.6.7), as Postfix and Dovecot
// write them: "from <helo> ([<ip>]) by <host> (Mailroom) with <proto> id <id> for <rcpt>; <date>".
#include "delivery/trace_headers.h"

#include <ctime>

namespace mailroom::delivery {

std::string trace_headers(const TraceInfo& t) {
  return "Return-Path: <" + t.reverse_path + ">\r\n" + received_header(t);
}

std::string received_header(const TraceInfo& t) {
  std::string out = "Received: from " + t.helo;
  const char* open = t.helo.empty() ? "" : " (";
  const char* close = t.helo.empty() ? "" : ")";
  if (!t.peer_ip.empty()) {
    const bool v6 = t.peer_ip.find(':') != std::string::npos;
    out += open + std::string("[") + (v6 ? "IPv6:" : "") + t.peer_ip + "]" + close;
  } else {
    out += open + std::string("local socket") + close;
  }
  out += "\r\n\tby " + t.hostname + " (Mailroom)";
  if (!t.tls_version.empty()) {
    out += "\r\n\t(using " + t.tls_version + " with cipher " + t.tls_cipher + ")";
  }
  out += "\r\n\twith " + t.with + " id " + t.id;
  if (!t.recipient.empty()) out += "\r\n\tfor <" + t.recipient + ">";
  out += ";\r\n\t" + t.date + "\r\n";
  return out;
}

std::string rfc5322_date(long long t) {
  const std::time_t when = static_cast<std::time_t>(t);
  std::tm tm{};
  localtime_r(&when, &tm);
  char buf[64];
  // %a and %b are the C locale's English names only under LC_TIME=C: build them by hand.
  static const char* const kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const long offset_min = tm.tm_gmtoff / 60;
  const char sign = offset_min < 0 ? '-' : '+';
  const long abs_min = offset_min < 0 ? -offset_min : offset_min;
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d %c%02ld%02ld", kDays[tm.tm_wday % 7], tm.tm_mday,
                kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, sign, abs_min / 60,
                abs_min % 60);
  return buf;
}

}  // namespace mailroom::delivery
