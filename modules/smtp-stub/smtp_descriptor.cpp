// What smtp and lmtp declare to the core: ports, RFC 5321's timeouts and line limit, replies.
#include "modules/smtp-stub/smtp_descriptor.h"

#include "modules/smtp-stub/smtp_module.h"
#include "modules/smtp-stub/smtp_settings.h"

namespace mailroom::smtp {

namespace {

core::ModuleDescriptor common(Protocol protocol) {
  core::ModuleDescriptor d;
  d.core_defaults = {
      // RFC 5321 4.5.3.2.7: the server waits at least 5 minutes for the next command.
      {"idle_timeout", "300", "RFC 5321 4.5.3.2.7 asks for at least 300 seconds between commands."},
      // RFC 5321 4.5.3.1.4 allows 512 octets, plus room for ESMTP parameters (RFC 1869 4.1.2).
      {"max_command_length", "1024",
       "RFC 5321 allows 512 octets, plus the ESMTP parameters' room: 1024 leaves both. Message data is "
       "limited by max_line_length, never by this (an over-long data line never triggers auto_deny)."},
      {"login_timeout", "0", "SMTP and LMTP have no login: not used."},
      {"starttls", std::nullopt, "For SMTP and LMTP this is the STARTTLS command (RFC 3207)."},
      {"tls_required_for_login", std::nullopt, "SMTP and LMTP have no login: not used."},
      {"plaintext_login_from_loopback", std::nullopt, "SMTP and LMTP have no login: not used."},
  };
  d.settings = smtp_setting_specs(protocol);
  d.replies.busy = "421 4.7.0 Too many connections, try again later\r\n";
  d.replies.idle_timeout = "421 4.4.2 Idle timeout, closing connection\r\n";
  d.replies.command_timeout = "421 4.4.2 Command line not completed in time, closing connection\r\n";
  d.replies.login_timeout = "421 4.4.2 Timeout, closing connection\r\n";
  d.replies.auto_denied = "421 4.7.0 Command line too long, closing connection\r\n";
  d.replies.ended = "421 4.3.2 Service shutting down, closing connection\r\n";
  d.make = [protocol](const core::ModuleStores& stores) {
    return make_smtp_module(protocol, stores.accounts, stores.mail);
  };
  return d;
}

}  // namespace

core::ModuleDescriptor smtp_descriptor() {
  core::ModuleDescriptor d = common(Protocol::kSmtp);
  d.name = "smtp";
  d.port = 25;
  d.tls_port = 465;
  d.core_defaults.push_back({"implicit_tls", "off",
                             "For SMTP this is port 465 (RFC 8314, 'submissions'); an MX receives on 25 with "
                             "STARTTLS, so it is off by default."});
  d.default_services = {"smtp"};
  return d;
}

core::ModuleDescriptor lmtp_descriptor() {
  core::ModuleDescriptor d = common(Protocol::kLmtp);
  d.name = "lmtp";
  d.port = 24;
  d.tls_port = 2424;
  d.core_defaults.push_back({"implicit_tls", "off",
                             "LMTP has no standard implicit-TLS port; its client is normally your own MTA on this "
                             "host, so it is off by default."});
  // Reached by the MTA on this host: a unix socket in the data dir, no TCP listener unless
  // binds names one (e.g. for an MTA in a container: binds 127.0.0.1, port 24).
  d.core_defaults.push_back({"binds", "none", "LMTP listens on its unix_socket only, unless TCP binds are named here."});
  d.core_defaults.push_back(
      {"unix_socket", "lmtp.sock", "Postfix: lmtp:unix:<data dir>/lmtp.sock (see docs/smtp.md)."});
  d.default_services = {"lmtp"};
  return d;
}

}  // namespace mailroom::smtp
