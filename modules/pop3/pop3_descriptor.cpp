// What pop3 declares to the core: ports 110/995, RFC 1939's idle timeout, its replies.
#include "modules/pop3/pop3_descriptor.h"

#include "auth/secrets.h"

#include "modules/pop3/pop3_module.h"
#include "modules/pop3/pop3_settings.h"

namespace mailroom::pop3 {

core::ModuleDescriptor pop3_descriptor() {
  core::ModuleDescriptor d;
  d.name = "pop3";
  d.port = 110;
  d.tls_port = 995;
  d.core_defaults = {
      {"idle_timeout", "600", "RFC 1939 asks for at least 600."},
      {"max_command_length", "512", ""},
      {"implicit_tls", std::nullopt, "For POP3 this is POP3S (RFC 8314)."},
      {"starttls", std::nullopt, "For POP3 this is the STLS command (RFC 2595)."},
  };
  d.settings = pop3_setting_specs();
  d.replies.busy = "-ERR [SYS/TEMP] too many connections, try again later\r\n";
  d.replies.idle_timeout = "-ERR disconnected for inactivity\r\n";
  d.replies.command_timeout = "-ERR command line not completed in time, closing connection\r\n";
  d.replies.login_timeout = "-ERR login not completed in time, closing connection\r\n";
  d.replies.auto_denied = "-ERR [SYS/PERM] command line too long, closing connection\r\n";
  // Never UPDATE: a session ended this way deletes nothing (RFC 1939 section 6).
  d.replies.ended = "-ERR [SYS/TEMP] session ended by the administrator, try again later\r\n";
  d.default_services = {"pop3"};
  d.make = [](const core::ModuleStores& stores) { 
    return make_pop3_module(stores.accounts, stores.mail, stores.data_dir, stores.leases);
  };
  d.wanted_secret_kinds = [](const config::ServiceSettings& settings) {
    return auth::wanted_secret_kinds(login_offer(settings));
  };
  return d;
}

}  // namespace mailroom::pop3
