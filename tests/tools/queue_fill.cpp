// queue_fill: a test-only helper (never installed) that fills a data directory's outbound queue
// through the real queue API, so tests/e2e/test_queue_cli.py can drive `mailctl queue` without a
// relay or a smarthost.
//
//   queue_fill add DATA SENDER RCPT... [--at UNIX] < message   queue it; prints the id
//   queue_fill attempt DATA ID REPLY                           record a failed attempt: attempts+1,
//                                                              last_error and every pending
//                                                              recipient's last_reply = REPLY, next
//                                                              attempt in an hour
//   queue_fill hold DATA ID                                    take the entry's lock, print "held",
//                                                              keep it until stdin is closed
#include <ctime>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "storage/mail_store.h"
#include "storage/queue/outbound_queue.h"

using namespace mailroom;
using namespace mailroom::storage;

namespace {

int fail(const std::string& what) {
  std::cerr << "queue_fill: " << what << "\n";
  return 1;
}

int add(const OutboundQueue& q, const std::string& sender, std::vector<std::string> args) {
  int64_t at = std::time(nullptr);
  std::vector<std::string> recipients;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--at" && i + 1 < args.size()) {
      at = std::stoll(args[++i]);
    } else {
      recipients.push_back(args[i]);
    }
  }
  if (auto s = q.ensure_dirs(); !s) return fail(s.error().message);
  std::string message(std::istreambuf_iterator<char>(std::cin), {});
  auto writer = make_maildir_store()->begin_delivery(q.messages_maildir(), DeliveryLimits{});
  if (!writer) return fail(writer.error().message);
  if (auto s = (*writer)->append(message); !s) return fail(s.error().message);
  auto copies = (*writer)->commit_to({q.messages_maildir()});
  if (!copies) return fail(copies.error().message);
  if (!(*copies)[0]) return fail((*copies)[0].error().message);
  auto entry = q.enqueue(*(*copies)[0], sender, recipients, at);
  if (!entry) return fail(entry.error().message);
  std::cout << entry->id << "\n";
  return 0;
}

int attempt(const OutboundQueue& q, const std::string& id, const std::string& reply) {
  auto held = q.lock(id);
  if (!held) return fail(held.error().message);
  auto entry = q.get(id);
  if (!entry) return fail(entry.error().message);
  const int64_t now = std::time(nullptr);
  entry->attempts += 1;
  entry->last_attempt_at = now;
  entry->next_attempt_at = now + 3600;
  entry->last_error = reply;
  for (auto& r : entry->recipients) {
    if (r.state == RecipientState::kPending) r.last_reply = reply;
  }
  if (auto s = q.update(*entry); !s) return fail(s.error().message);
  return 0;
}

int hold(const OutboundQueue& q, const std::string& id) {
  auto held = q.lock(id);
  if (!held) return fail(held.error().message);
  std::cout << "held" << std::endl;
  std::string rest(std::istreambuf_iterator<char>(std::cin), {});  // until the test closes stdin
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.size() < 3) return fail("usage: queue_fill add|attempt|hold DATA ...");
  OutboundQueue q(args[1] + "/queue");
  if (args[0] == "add" && args.size() >= 4) return add(q, args[2], std::vector<std::string>(args.begin() + 3, args.end()));
  if (args[0] == "attempt" && args.size() == 4) return attempt(q, args[2], args[3]);
  if (args[0] == "hold" && args.size() == 3) return hold(q, args[2]);
  return fail("usage: queue_fill add|attempt|hold DATA ...");
}
