// SessionAdapter: the adapter between a core Connection and the pure smtp::Session. It performs
// the session's effects: recipient lookups on the worker pool, the data streamed to disk
// (DeliveryStream) and committed, failures counted with the anti-hammering guard, STARTTLS.
#pragma once

#include <memory>
#include <string>

#include "core/loop/event_loop.h"
#include "core/module/module.h"
#include "core/module/module_descriptor.h"
#include "core/net/connection.h"
#include "modules/smtp-stub/delivery_metrics.h"
#include "delivery/delivery_stream.h"
#include "modules/smtp-stub/smtp_session.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"

namespace mailroom::smtp {

struct AdapterConfig {
  std::string log_prefix = "smtp";  // smtp.connect, lmtp.delivered, ...
  uint64_t data_timeout_ms = 600000;
  std::string service;  // the service's name (metrics label)
};

class SessionAdapter : public core::ProtocolSession {
 public:
  SessionAdapter(core::Connection& connection, storage::AccountStore& accounts, storage::MailStore& mail,
                 SessionConfig config, AdapterConfig adapter, std::shared_ptr<const tls::TlsContext> tls,
                 core::ClientPolicy& policy, const core::ModuleReplies& replies);
  ~SessionAdapter() override;

  void on_open() override;
  void on_line(std::string_view line, core::LineEnding ending) override;
  std::string loggable_line(std::string_view line) const override;
  void on_line_too_long() override;
  void on_body_line(std::string_view line, core::LineEnding ending) override;
  void on_body_end(const core::BodySummary& summary) override;
  std::string on_timeout(core::Timeout which) override;
  core::SessionInfo describe() const override { return {{}, state_name(session_.state())}; }
  void on_close() override;

 private:
  void run(Step step);
  void lookup(const RcptTo& rcpt, std::optional<uint64_t> size);
  void receive(ReceiveData data);
  void commit();
  void count_failure();
  std::string event(const char* name) const { return adapter_.log_prefix + "." + name; }
  std::string sid() const;
  std::string next_message_id();

  core::Connection& conn_;
  storage::AccountStore& accounts_;
  storage::MailStore& mail_;
  Session session_;
  AdapterConfig adapter_;
  std::shared_ptr<const tls::TlsContext> tls_;
  core::ClientPolicy& policy_;
  const core::ModuleReplies& replies_;
  std::unique_ptr<delivery::DeliveryStream> stream_;  // the data of the current transaction
  core::Timer delay_timer_;  // holds an unknown recipient's reply (anti-hammering delay)
  std::string message_id_;   // of the data being received
  DeliveryMetrics metrics_;
  uint64_t message_count_ = 0;
  uint64_t data_octets_ = 0;
};

}  // namespace mailroom::smtp
