// Declarations of the smtp and lmtp modules' own settings with their defaults and doc lines.
#include "modules/smtp-stub/smtp_settings.h"

#include <unistd.h>

#include "modules/smtp-stub/smtp_command.h"
#include "storage/mail_store.h"

namespace mailroom::smtp {

namespace {

std::optional<std::string> check_hostname(std::string_view v) {
  if (v.empty()) return std::nullopt;  // empty: the system host name
  if (check_helo_argument(v)) return std::string("a host name without spaces or control characters");
  return std::nullopt;
}

std::optional<std::string> check_bare_line_endings(std::string_view v) {
  if (v == "reject" || v == "normalise") return std::nullopt;
  return std::string("'reject' (refuse the message, 554 5.6.0) or 'normalise' (store CRLF)");
}

}  // namespace

std::vector<config::SettingSpec> smtp_setting_specs(Protocol protocol) {
  const bool lmtp = protocol == Protocol::kLmtp;
  std::vector<config::SettingSpec> specs;
  specs.push_back(config::string_setting(
      "hostname", "", 253,
      "The name the server gives itself in the greeting, the EHLO/LHLO reply and the Received header "
      "it adds; empty: the system host name. An MX should use the name its address resolves back to.",
      check_hostname));
  specs.push_back(config::int_setting(
      "max_message_size", static_cast<int64_t>(storage::kDefaultMaxMessageSize), 1024, int64_t{1} << 40,
      "The largest message accepted, in octets as sent (CRLF line ends, RFC 1870), advertised as SIZE in "
      "the EHLO reply. A MAIL FROM declaring more, or data running over it, gets 552 5.3.4; the data is "
      "read to its end and discarded, nothing is stored."));
  specs.push_back(config::int_setting("max_recipients", 100, 1, 100000,
                                      "Recipients accepted in one transaction (RFC 5321 4.5.3.1.8 asks for at "
                                      "least 100); further RCPTs get 452 4.5.3 and the client sends them later."));
  specs.push_back(config::int_setting(
      "max_received_headers", 50, 1, 1000,
      "A message arriving with more Received: header lines than this is looping between servers "
      "(RFC 5321 6.3): it is refused with 554 5.4.6."));
  specs.push_back(config::string_setting(
      "bare_line_endings", "reject", 16,
      "What to do with message data containing a line ended by a bare LF or a bare CR (only CRLF is "
      "SMTP's line end; servers reading them differently are the 2023 'SMTP smuggling' attacks): "
      "'reject' refuses the message with 554 5.6.0, 'normalise' stores them as CRLF line ends. Either "
      "way only <CRLF>.<CRLF> ends the data.",
      check_bare_line_endings));
  specs.push_back(config::int_setting(
      "max_line_length", 65536, 1000, 16 * 1024 * 1024,
      "The longest line of message data accepted, in octets with its CRLF (RFC 5321 asks for at least "
      "1000; RFC 5322 limits lines to 998 characters). A message with a longer line is refused with "
      "554 5.6.0 and nothing is stored (rather than storing it cut). Each session holds up to this much."));
  specs.push_back(config::int_setting("max_bad_commands", 10, 1, 1000,
                                      "Unknown, malformed or out-of-sequence commands allowed in one session; "
                                      "the next one is answered 421 4.7.0 and the connection closed."));
  specs.push_back(config::int_setting(
      "data_timeout", 600, 1, 86400,
      "Seconds of silence allowed while message data is arriving (RFC 5321 4.5.3.2.5-6: the client waits "
      "3 minutes per data block and 10 for the final reply); outside DATA, idle_timeout applies."));
  specs.push_back(config::bool_setting("smtputf8", true,
                                       "Offer SMTPUTF8 (RFC 6531): internationalised (UTF-8) addresses and "
                                       "headers, stored as they arrive."));
  specs.push_back(config::bool_setting(
      "count_unknown_recipients", !lmtp,
      std::string("Count each RCPT TO an unknown mailbox as a failed login for the anti-hammering guard "
                  "(max_login_failures, failure_window, failure_delay), so a client harvesting addresses is "
                  "slowed down and then blocked. ") +
          (lmtp ? "Off by default for LMTP: its client is your own MTA." : "On by default for SMTP.")));
  return specs;
}

}  // namespace mailroom::smtp
