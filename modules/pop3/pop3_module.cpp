// The pop3 module instance: creates one Pop3Connection per client.
#include "modules/pop3/pop3_module.h"

#include <unistd.h>

#include <atomic>
#include <chrono>

#include "auth/secrets.h"
#include "core/config/account_settings.h"
#include "core/system/host_name.h"
#include "modules/pop3/apop_timestamp.h"
#include "modules/pop3/session_adapter.h"
#include "modules/pop3/pop3_settings.h"
#include "storage/uidl/uidl_template.h"

namespace mailroom::pop3 {

namespace {

class Pop3Module : public core::Module {
 public:
  Pop3Module(storage::AccountStore& accounts, storage::MailStore& mail, const std::string& data_dir,
             std::shared_ptr<storage::LeaseKeeper> leases)
      : accounts_(accounts),
        mail_(mail),
        queue_(std::make_shared<const storage::OutboundQueue>(data_dir.empty() ? std::string("queue")
                                                                                : data_dir + "/queue")),
        host_(msg_id_safe_host(core::system_host_name())),
        pid_(std::to_string(getpid())),
        leases_(std::move(leases)) {}

  // A unique timestamp per greeting (apop_timestamp.h: never longer than the banner leaves room for).
  std::string next_timestamp() {
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    return apop_timestamp(pid_, micros, ++counter_, host_);
  }

  std::unique_ptr<core::ProtocolSession> create_session(core::Connection& connection,
                                                        const core::ServiceContext& context) override {
    const auto& s = *context.settings;
    SessionConfig config;
    // RFC 1939 section 7: the greeting carries a timestamp only when the server offers APOP;
    // clients such as curl pick APOP whenever they see one, so it is there only with `apop` on.
    if (s.get_bool("apop")) config.apop_timestamp = next_timestamp();
    config.ntlm_v1 = s.get_bool("ntlm_v1");
    config.hostname = host_;
    config.banner = s.get_string("banner");
    config.alt_at_chars = s.get_string("alt_at_chars");
    config.capa_implementation = s.get_bool("capa_implementation");
    config.max_bad_commands = s.get_int("max_bad_commands");
    config.secure = connection.tls_active();
    config.sasl_mechanisms = split_mechanisms(s.get_string("auth_mechanisms"));
    config.stls_available = s.get_bool("starttls") && context.tls != nullptr && !config.secure;
    config.xtnd_xmit = s.get_bool("xtnd_xmit");
    config.xtnd_xmit_any_sender = s.get_bool("xtnd_xmit_any_sender");
    config.max_message_size = static_cast<uint64_t>(s.get_int("max_message_size"));
    config.xmit_max_line_length = static_cast<std::size_t>(s.get_int("xtnd_xmit_max_line_length"));
    config.xmit_max_header_size = static_cast<std::size_t>(s.get_int("xtnd_xmit_max_header_size"));
    config.login_delay = s.get_int(config::kLoginDelay);
    config.expire_days = config::expire_days_value(s.get_string(config::kExpireDays));
    config.auth_list_bare = s.get_bool("auth_list_bare");
    config.last_command = s.get_bool("last_command");
    AdapterOptions options;
    options.readahead_bytes = static_cast<uint64_t>(s.get_int("retr_readahead"));
    options.nul_replacement = nul_replacement(s.get_string("nul_bytes"));
    options.top_add_blank_line = s.get_bool("top_add_blank_line");
    options.login_delay = config.login_delay;
    options.expire_days = config.expire_days;
    options.login_delays = login_delays_;
    options.leases = leases_;
    config.plaintext_login_allowed = !s.get_bool("tls_required_for_login") ||
                                     (s.get_bool("plaintext_login_from_loopback") && connection.is_local_client());
    if (wanted_for_ != context.settings) {  // per settings snapshot, not per session
      wanted_for_ = context.settings;
      wanted_ = auth::needed_secret_kinds(login_offer(s));
      open_options_ = storage::OpenOptions{};
      if (std::string format = s.get_string("uidl_format"); format != storage::uidl::kNativeFormat) {
        // Validated when stored; a value that no longer parses falls back to native UIDLs.
        if (auto parsed = storage::uidl::UidlTemplate::parse(format)) {
          open_options_.uidl_format = std::make_shared<const storage::uidl::UidlTemplate>(std::move(parsed).value());
        }
      }
    }
    options.open_options = open_options_;
    return std::make_unique<SessionAdapter>(connection, accounts_, mail_, queue_, std::move(config), context.tls,
                                            *context.policy, *context.replies, wanted_, context.service_name,
                                            std::move(options));
  }

 private:
  storage::AccountStore& accounts_;
  storage::MailStore& mail_;
  std::shared_ptr<const storage::OutboundQueue> queue_;  // DATA/queue: XTND XMIT's remote recipients
  std::string host_;
  std::string pid_;
  std::atomic<uint64_t> counter_{0};  // sessions are created on every session loop
  std::shared_ptr<const config::ServiceSettings> wanted_for_;
  std::set<std::string> wanted_;
  // LOGIN-DELAY: the last login of each mailbox, shared by every session of every pop3 service.
  std::shared_ptr<LoginDelayTable> login_delays_ = std::make_shared<LoginDelayTable>();
  storage::OpenOptions open_options_;  // uidl_format, per settings snapshot
  std::shared_ptr<storage::LeaseKeeper> leases_;  // ModuleStores::leases
};

}  // namespace

std::unique_ptr<core::Module> make_pop3_module(storage::AccountStore& accounts, storage::MailStore& mail,
                                               const std::string& data_dir,
                                               std::shared_ptr<storage::LeaseKeeper> leases) {
  return std::make_unique<Pop3Module>(accounts, mail, data_dir, std::move(leases));
}

}  // namespace mailroom::pop3
