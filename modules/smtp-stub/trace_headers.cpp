// Return-Path and Received header fields (RFC 5321 4.4, RFC 5322 3.6.7), as Postfix and Dovecot
// write them: "from <helo> ([<ip>]) by <host> (Mailroom) with <proto> id <id> for <rcpt>; <date>".
#include "modules/smtp-stub/trace_headers.h"

namespace mailroom::smtp {

std::string trace_headers(const TraceInfo& t) {
  std::string out = "Return-Path: <" + t.reverse_path + ">\r\n";
  out += "Received: from " + t.helo;
  if (!t.peer_ip.empty()) {
    const bool v6 = t.peer_ip.find(':') != std::string::npos;
    out += " ([" + std::string(v6 ? "IPv6:" : "") + t.peer_ip + "])";
  } else {
    out += " (local socket)";
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

}  // namespace mailroom::smtp
