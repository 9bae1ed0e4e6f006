// Return-Path and Received header fields (RFC 5321 4.4, RFC 5322 3.6.7), as Postfix and Dovecot
// write them: "from <helo> ([<ip>]) by <host> (Mailroom) with <proto> id <id> for <rcpt>; <date>".
#include "delivery/trace_headers.h"

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

}  // namespace mailroom::delivery
