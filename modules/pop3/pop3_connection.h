// Pop3Connection: the adapter between a core Connection and the pure pop3::Session. It performs
// the session's effects (credential checks, maildrop scans, message streaming, deletions) on the
// worker pool and feeds the results back on the loop thread.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "core/module/module.h"
#include "core/net/connection.h"
#include "modules/pop3/dot_stuffer.h"
#include "modules/pop3/session.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"

namespace mailroom::pop3 {

class Pop3Connection : public core::ProtocolSession {
 public:
  Pop3Connection(core::Connection& connection, storage::AccountStore& accounts, storage::MailStore& mail,
                 SessionConfig config, std::shared_ptr<const tls::TlsContext> tls, core::ClientPolicy& policy,
                 std::set<std::string> wanted_secrets);
  ~Pop3Connection() override;

  void on_open() override;
  void on_line(std::string_view line) override;
  void on_line_too_long() override;
  void on_drain() override;
  std::string on_idle_timeout() override;
  void on_close() override;

 private:
  struct Stream;  // state of a RETR/TOP in progress, shared with the worker doing the reads

  void run(Step step);
  void start_login(Authenticate auth);
  void fetch_secret(FetchSecret fetch);
  // Feeds a finished login to the session, after the anti-hammering delay on failure.
  void finish_login(LoginOutcome outcome, std::vector<storage::MessageInfo> listing);
  void start_stream(const StreamMessage& msg);
  void pump();
  void start_update(CommitDeletions del);
  std::string sid() const;

  core::Connection& conn_;
  storage::AccountStore& accounts_;
  storage::MailStore& mail_;
  Session session_;
  std::shared_ptr<const tls::TlsContext> tls_;  // for STLS
  core::ClientPolicy& policy_;
  std::set<std::string> wanted_secrets_;  // kinds the offered mechanisms need (filled in at login)
  core::Timer delay_timer_;  // holds a failed login's reply (anti-hammering)
  std::shared_ptr<storage::MaildropLock> lock_;
  std::shared_ptr<storage::Maildrop> drop_;
  std::shared_ptr<Stream> stream_;
  bool read_in_flight_ = false;
  std::string user_;
  uint64_t retrieved_ = 0, retrieved_bytes_ = 0;
};

}  // namespace mailroom::pop3
