// The smtp/lmtp module instance: maps a service's settings to a session's configuration.
#include "modules/smtp-stub/smtp_module.h"

#include "core/net/connection.h"
#include "core/system/host_name.h"
#include "modules/smtp-stub/session_adapter.h"
#include "modules/smtp-stub/smtp_settings.h"

namespace mailroom::smtp {

namespace {

class SmtpModule : public core::Module {
 public:
  SmtpModule(Protocol protocol, storage::AccountStore& accounts, storage::MailStore& mail)
      : protocol_(protocol), accounts_(accounts), mail_(mail), system_hostname_(core::system_host_name()) {}

  std::unique_ptr<core::ProtocolSession> create_session(core::Connection& connection,
                                                        const core::ServiceContext& context) override {
    const auto& s = *context.settings;
    SessionConfig config;
    config.protocol = protocol_;
    config.hostname = s.get_string("hostname").empty() ? system_hostname_ : s.get_string("hostname");
    config.max_message_size = static_cast<uint64_t>(s.get_int("max_message_size"));
    config.max_recipients = static_cast<std::size_t>(s.get_int("max_recipients"));
    config.max_received_headers = static_cast<std::size_t>(s.get_int("max_received_headers"));
    config.reject_bare_line_endings = s.get_string("bare_line_endings") == "reject";
    config.max_line_length = static_cast<std::size_t>(s.get_int("max_line_length"));
    config.max_bad_commands = static_cast<std::size_t>(s.get_int("max_bad_commands"));
    config.smtputf8 = s.get_bool("smtputf8");
    config.secure = connection.tls_active();
    config.starttls_available = s.get_bool("starttls") && context.tls != nullptr && !config.secure;
    config.count_unknown_recipients = s.get_bool("count_unknown_recipients");
    config.peer_ip = connection.is_unix() ? std::string() : connection.peer_ip();  // a unix client has none
    AdapterConfig adapter;
    adapter.log_prefix = protocol_ == Protocol::kLmtp ? "lmtp" : "smtp";
    adapter.data_timeout_ms = static_cast<uint64_t>(s.get_int("data_timeout")) * 1000;
    adapter.service = context.service_name;
    return std::make_unique<SessionAdapter>(connection, accounts_, mail_, std::move(config), std::move(adapter),
                                            context.tls, *context.policy, *context.replies);
  }

 private:
  Protocol protocol_;
  storage::AccountStore& accounts_;
  storage::MailStore& mail_;
  std::string system_hostname_;
};

}  // namespace

std::unique_ptr<core::Module> make_smtp_module(Protocol protocol, storage::AccountStore& accounts,
                                               storage::MailStore& mail) {
  return std::make_unique<SmtpModule>(protocol, accounts, mail);
}

}  // namespace mailroom::smtp
