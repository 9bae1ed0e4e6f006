// The trace header fields a receiving server adds (RFC 5321 4.4): Return-Path and Received.
// Pure: the caller supplies the date and the id.
#pragma once

#include "core/base/time_text.h"

#include <string>

namespace mailroom::delivery {

struct TraceInfo {
  std::string reverse_path;  // MAIL FROM's address ("" for <>)
  std::string helo;          // the client's EHLO/HELO/LHLO argument
  std::string peer_ip;       // "" when not an IP client (a unix socket)
  std::string hostname;      // ours
  std::string with;          // RFC 3848: SMTP, ESMTP, ESMTPS, LMTP, LMTPS, UTF8SMTPS, ...
  std::string recipient;     // set only when the message has one recipient ("for <...>")
  std::string tls_version;   // "" without TLS
  std::string tls_cipher;
  std::string id;            // unique per message
  std::string date;          // RFC 5322 date-time
};

// "Received: from ...;\r\n\t<date>\r\n" alone (reverse_path unused). Without a helo (XTND XMIT):
// "Received: from [<ip>]".
std::string received_header(const TraceInfo& trace);

// "Return-Path: <...>\r\nReceived: from ...;\r\n\t<date>\r\n": header lines, CRLF-ended, folded
// to stay under 78 characters where they can.
std::string trace_headers(const TraceInfo& trace);

// RFC 5322 date-time (core/base/time_text.h), the Date of the Received line.
using ::mailroom::rfc5322_date;

}  // namespace mailroom::delivery
