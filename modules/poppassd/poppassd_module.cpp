// The poppassd module instance: one SessionAdapter per client, configured from the settings.
#include "modules/poppassd/poppassd_module.h"

#include <unistd.h>

#include "core/net/connection.h"
#include "core/system/host_name.h"
#include "modules/poppassd/session_adapter.h"

namespace mailroom::poppassd {

namespace {

class PoppassdModule : public core::Module {
 public:
  PoppassdModule(storage::AccountStore& accounts, WantedSecretKinds wanted)
      : accounts_(accounts), wanted_(std::move(wanted)), host_(core::system_host_name()) {}

  std::unique_ptr<core::ProtocolSession> create_session(core::Connection& connection,
                                                        const core::ServiceContext& context) override {
    const auto& s = *context.settings;
    SessionConfig config;
    config.hostname = host_;
    config.banner = s.get_string("banner");
    config.changes_allowed = s.get_bool("allow_password_change");
    config.max_bad_commands = s.get_int("max_bad_commands");
    config.plaintext_login_allowed = connection.tls_active() || !s.get_bool("tls_required_for_login") ||
                                     (s.get_bool("plaintext_login_from_loopback") && connection.is_local_client());
    return std::make_unique<SessionAdapter>(connection, accounts_, wanted_, std::move(config), *context.policy,
                                            *context.replies, context.service_name);
  }

 private:
  storage::AccountStore& accounts_;
  WantedSecretKinds wanted_;
  std::string host_;
};

}  // namespace

std::unique_ptr<core::Module> make_poppassd_module(storage::AccountStore& accounts, WantedSecretKinds wanted) {
  return std::make_unique<PoppassdModule>(accounts, std::move(wanted));
}

}  // namespace mailroom::poppassd
