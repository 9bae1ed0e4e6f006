// What poppassd declares to the core: port 106, an optional implicit TLS port, its replies.
#include "modules/poppassd/poppassd_descriptor.h"

#include "modules/poppassd/poppassd_module.h"
#include "modules/poppassd/poppassd_settings.h"

namespace mailroom::poppassd {

core::ModuleDescriptor poppassd_descriptor() {
  core::ModuleDescriptor d;
  d.name = "poppassd";
  d.port = 106;      // the port Eudora and the poppassd daemons use
  d.tls_port = 1106;  // none is registered: pick your own
  d.core_defaults = {
      {"idle_timeout", "120", "A poppassd exchange is four lines."},
      {"implicit_tls", "off", "poppassd has no registered TLS port; turn it on to serve tls_port."},
      {"starttls", "off", "poppassd has no STARTTLS command: use implicit_tls."},
  };
  d.settings = poppassd_setting_specs();
  d.replies.busy = "500 Too many connections, try again later.\r\n";
  d.replies.idle_timeout = "500 Disconnected for inactivity.\r\n";
  d.replies.command_timeout = "500 Command line not completed in time, closing connection.\r\n";
  d.replies.login_timeout = "500 Password not changed in time, closing connection.\r\n";
  d.replies.auto_denied = "500 Command line too long, closing connection.\r\n";
  d.replies.ended = "500 Session ended by the administrator, try again later.\r\n";
  d.default_services = {"poppassd"};
  d.default_services_enabled = false;  // as in the manuals: remote password changes are opt-in
  d.make = [](const core::ModuleStores& stores) {
    return make_poppassd_module(stores.accounts, stores.wanted_secret_kinds);
  };
  // Logins here check the old password only; the derived secrets are rebuilt by the change.
  return d;
}

}  // namespace mailroom::poppassd
