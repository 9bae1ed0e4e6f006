// The RFC 5321 4.1.2 Path grammar (pure): "<" [source route ":"] mailbox ">" or the null path
// "<>", with RFC 6531 UTF-8 in local parts and domains, and the RFC 5321 4.5.3.1 size limits.
// Used by the MAIL FROM / RCPT TO parsers (smtp_command.cpp), which turn a PathFault into the
// reply of their command (5.1.7 for a sender, 5.1.3 for a recipient).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace mailroom::smtp {

// RFC 5321 4.5.3.1: octet limits of a path and its parts.
constexpr std::size_t kMaxPathLength = 256;        // 4.5.3.1.3, "<" and ">" included
constexpr std::size_t kMaxLocalPartLength = 64;    // 4.5.3.1.1, as sent (quotes included)
constexpr std::size_t kMaxDomainLength = 255;      // 4.5.3.1.2
constexpr std::size_t kMaxDomainLabelLength = 63;  // RFC 1035 2.3.4 (octets, also for U-labels)

struct ParsedPath {
  bool null = false;            // "<>"
  bool source_route = false;    // "<@a,@b:...>" was sent (and dropped)
  std::string_view mailbox;     // local[@domain] as sent, without the source route
  std::string_view local;       // as sent (a quoted-string keeps its quotes and escapes)
  std::string local_unquoted;   // quoted-pair escapes resolved, quotes removed
  std::string_view domain;      // as sent; empty when the mailbox has no "@domain"
  bool domain_is_literal = false;  // "[1.2.3.4]", "[IPv6:...]", "[tag:...]"
  bool non_ascii = false;       // a byte >= 0x80 somewhere in the path (checked well-formed)
  std::size_t length = 0;       // octets from "<" to ">" inclusive
};

enum class PathFault {
  kSyntax,          // not a path
  kTooLong,         // over kMaxPathLength
  kLocalTooLong,    // over kMaxLocalPartLength
  kDomainTooLong,   // over kMaxDomainLength
  kLabelTooLong,    // a domain label over kMaxDomainLabelLength
  kBadUtf8,         // non-ASCII bytes that are not well-formed UTF-8
};

// Parses the path at the start of `text` (which must start with "<"); what follows the ">" is
// left to the caller (ParsedPath::length says where it starts). Views point into `text`.
// A mailbox without "@domain" is returned as such (only RCPT TO:<Postmaster> may use it).
std::variant<ParsedPath, PathFault> parse_path(std::string_view text);

// RFC 3629 well-formed UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_well_formed_utf8(std::string_view text);

}  // namespace mailroom::smtp
