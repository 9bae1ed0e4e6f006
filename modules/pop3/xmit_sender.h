// XmitSender: performs the effects of XTND XMIT for one POP3 session (docs/xtnd-xmit.md). The
// message streams into the outbound queue's Maildir (the spool, DATA/queue/messages/tmp) with a
// Received line in front; at the end, on workers: every recipient is looked up and its quota
// checked (nothing happens if one is refused), the file is committed to each local mailbox (and to the queue's Maildir if
// a recipient is remote), then the remote ones are queued. The result is reported only once every
// copy and the queue entry are durable; a failure after a copy was made removes the copies made.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "core/net/connection.h"
#include "delivery/delivery_stream.h"
#include "modules/pop3/session.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"
#include "storage/queue/outbound_queue.h"

namespace mailroom::pop3 {

class XmitSender {
 public:
  XmitSender(core::Connection& connection, storage::AccountStore& accounts, storage::MailStore& mail,
             std::shared_ptr<const storage::OutboundQueue> queue, std::string hostname);
  ~XmitSender();
  XmitSender(const XmitSender&) = delete;
  XmitSender& operator=(const XmitSender&) = delete;

  // PrepareXmit: the queue's directories (a worker job); `done` runs on the loop unless the
  // connection has gone. Input is paused meanwhile; the caller resumes it.
  void prepare(std::function<void(Status)> done);
  // ReceiveXmit: body mode and the stream into the spool, starting with the Received line.
  void receive(const ReceiveXmit& limits);
  // One message line the session keeps.
  void add_line(std::string_view line);
  // DiscardXmit, or the connection closed: the spooled file is removed (on a worker).
  void discard();
  // SendXmit: look up, commit, queue; `done` runs on the loop unless the connection has gone.
  // Input is paused meanwhile; the caller resumes it.
  void send(SendXmit send, std::function<void(XmitResult)> done);

  const std::string& message_id() const { return message_id_; }

  struct Plan;  // where the message goes, decided on a worker

 private:
  void commit(std::shared_ptr<Plan> plan, std::function<void(XmitResult)> done);
  void enqueue(std::shared_ptr<Plan> plan, std::vector<storage::DeliveredMessage> copies,
               std::function<void(XmitResult)> done);
  void log_result(const Plan& plan, const XmitResult& result, const std::string& queue_id) const;

  core::Connection& conn_;
  storage::AccountStore& accounts_;
  storage::MailStore& mail_;
  std::shared_ptr<const storage::OutboundQueue> queue_;
  std::string hostname_;
  std::unique_ptr<delivery::DeliveryStream> stream_;
  std::string message_id_;
  uint64_t count_ = 0;  // messages sent in this session (for the id)
  uint64_t head_octets_ = 0;  // the Received line receive() put in front (counts for quotas)
};

}  // namespace mailroom::pop3
