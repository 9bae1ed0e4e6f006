// SessionAdapter: the adapter between a core Connection and the pure pop3::Session. It performs
// the session's effects on the worker pool and feeds the results back on the loop thread: logins
// through the shared auth::LoginService (adding the maildrop lock and scan), message streaming,
// deletions.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <vector>
#include <string>

#include "auth/login_service.h"
#include "modules/pop3/pop3_metrics.h"
#include "core/module/module.h"
#include "core/module/module_descriptor.h"
#include "core/net/connection.h"
#include "modules/pop3/login_delay_table.h"
#include "modules/pop3/top_filter.h"
#include "modules/pop3/session.h"
#include "modules/pop3/xmit_sender.h"
#include "storage/account_store.h"
#include "storage/lease/lease_keeper.h"
#include "storage/mail_store.h"

namespace mailroom::pop3 {

// The adapter's part of the service settings.
struct AdapterOptions {
  uint64_t readahead_bytes = 0;         // retr_readahead
  std::optional<char> nul_replacement;  // nul_bytes (nullopt: keep)
  bool top_add_blank_line = false;      // top_add_blank_line
  int64_t login_delay = 0;              // the service's login_delay (a mailbox's own wins)
  std::optional<int64_t> expire_days;   // the service's expire_days (nullopt: never)
  std::shared_ptr<LoginDelayTable> login_delays;  // the daemon's last logins (null: no LOGIN-DELAY)
  storage::OpenOptions open_options;  // uidl_format
  // The cluster-wide lease taken with the maildrop lock (null: this daemon alone on its database).
  std::shared_ptr<storage::LeaseKeeper> leases;
};

class SessionAdapter : public core::ProtocolSession {
 public:
  SessionAdapter(core::Connection& connection, storage::AccountStore& accounts, storage::MailStore& mail,
                 std::shared_ptr<const storage::OutboundQueue> queue, SessionConfig config, std::shared_ptr<const tls::TlsContext> tls, core::ClientPolicy& policy,
                 const core::ModuleReplies& replies, std::set<std::string> wanted_secrets, const std::string& service,
                 AdapterOptions options = {});
  ~SessionAdapter() override;

  void on_open() override;
  void on_line(std::string_view line, core::LineEnding ending) override;
  std::string loggable_line(std::string_view line) const override;
  void on_line_too_long() override;
  void on_drain() override;
  void on_body_line(std::string_view line, core::LineEnding ending) override;
  void on_body_end(const core::BodySummary& summary) override;
  std::string on_timeout(core::Timeout which) override;
  core::SessionInfo describe() const override { return {user_, state_name(session_.state())}; }
  void on_close() override;

 private:
  struct Stream;  // state of a RETR/TOP in progress, shared with the worker doing the reads
  struct ReadAhead {  // a whole message read after a RETR ended, dot-stuffed, no terminator
    std::size_t index = 0;
    std::string wire;
  };

  void run(Step step);
  // A login through login_: the credentials, then (on the worker) the maildrop lock and scan.
  void start_login(Authenticate auth);
  void fetch_secret(FetchSecret fetch);
  // Feeds a login's answer to the session (`listing`: the scan of a successful one).
  void answer_login(auth::LoginReply reply, storage::Listing listing = nullptr);
  void start_stream(const StreamMessage& msg);
  // Serves RETR/TOP from read_ahead_ when it holds the message; false if it does not.
  bool serve_read_ahead(const StreamMessage& msg);
  void pump();      // starts the next read of the stream unless one runs or output is above high water
  void on_chunk();  // a read finished: write its chunk, start the next
  void count_retrieved(std::size_t index);  // a RETR was served whole (the disconnect log's counts)
  static void read_chunk(Stream& stream);  // on a worker
  void start_update(CommitDeletions del);
  std::string sid() const;
  void xmit_done(Step step);  // an XTND XMIT effect finished: its reply, then input again

  core::Connection& conn_;
  storage::MailStore& mail_;
  Session session_;
  std::shared_ptr<const tls::TlsContext> tls_;  // for STLS
  core::ClientPolicy& policy_;
  const core::ModuleReplies& replies_;  // the descriptor's fixed lines (timeouts, auto-deny)
  auth::LoginService login_;
  Pop3Metrics metrics_;
  XmitSender xmit_;  // XTND XMIT's effects
  std::shared_ptr<storage::MaildropLock> lock_;
  std::shared_ptr<storage::Maildrop> maildrop_;
  std::shared_ptr<Stream> stream_;
  AdapterOptions options_;
  std::vector<ReadAhead> read_ahead_;  // ascending indexes; consumed by RETR/TOP
  bool read_in_flight_ = false;
  std::string user_;
  uint64_t retrieved_ = 0, retrieved_bytes_ = 0;
  uint64_t read_ahead_hits_ = 0;  // RETR/TOP served from read_ahead_ (in the disconnect log)
};

}  // namespace mailroom::pop3
