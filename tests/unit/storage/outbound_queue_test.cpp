// OutboundQueue (storage/queue): enqueue, list, get, update, remove, the entry lock, orphans, a
// broken envelope, and what a failed enqueue leaves (nothing). Real files in a temp directory.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "storage/mail_store.h"
#include "storage/queue/outbound_queue.h"
#include "storage/queue/queue_envelope.h"
#include "tests/unit/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace mailroom;
using namespace mailroom::storage;
using mailroom::testing::TempDir;

namespace {

// A message committed into the queue's Maildir, as a sender does before enqueue().
DeliveredMessage commit_message(const OutboundQueue& q, const std::string& text) {
  auto store = make_maildir_store();
  auto writer = store->begin_delivery(q.messages_maildir(), DeliveryLimits{});
  REQUIRE(writer);
  REQUIRE((*writer)->append(text));
  auto copies = (*writer)->commit_to({q.messages_maildir()});
  REQUIRE(copies);
  REQUIRE(copies->size() == 1);
  REQUIRE((*copies)[0]);
  return *(*copies)[0];
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  REQUIRE(f.good());
}

std::size_t count_files(const std::string& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.is_regular_file() ? 1 : 0;
  return n;
}

// A queue in a fresh temp directory, its folders made.
struct QueueDir {
  explicit QueueDir(const std::string& name) : tmp(name), q(tmp.sub("queue")) { REQUIRE(q.ensure_dirs()); }
  TempDir tmp;
  OutboundQueue q;
};

const std::string kMessage = "From: a@example.test\nTo: b@remote.test\nSubject: hi\n\nbody\n.dot line\n";

}  // namespace

TEST_CASE("queue ids: the message's delivery name, filesystem-safe") {
  CHECK(queue_id_for_message("1733433600.M12P34Q5.host,S=10,W=12") == "1733433600.M12P34Q5.host");
  CHECK(queue_id_for_message("1733433600.M12P34Q5.host,S=10,W=12:2,S") == "1733433600.M12P34Q5.host");
  CHECK(queue_id_for_message("1.M1P1Q1.ho\\057st") == "1.M1P1Q1.ho_057st");
  CHECK(queue_id_ok("1733433600.M12P34Q5.host"));
  CHECK_FALSE(queue_id_ok(""));
  CHECK_FALSE(queue_id_ok(".."));
  CHECK_FALSE(queue_id_ok("a/b"));
  CHECK_FALSE(queue_id_ok("-rf"));
  CHECK_FALSE(queue_id_ok(std::string(201, 'a')));
}

TEST_CASE("envelope text: written and read back the same") {
  QueueEntry e;
  e.id = "1.M1P1Q1.host";
  e.sender = "alice@example.test";
  e.recipients = {{"bob@remote.test", RecipientState::kDelivered, "250 2.0.0 ok"},
                  {"carol@remote.test", RecipientState::kPending, "451 4.3.0 later"}};
  e.size = 1234;
  e.queued_at = 1796475301;
  e.next_attempt_at = 1796475601;
  e.last_attempt_at = 1796475302;
  e.attempts = 3;
  e.last_error = "connection refused";
  e.bounced = true;
  e.message_path = "/data/queue/messages/new/1.M1P1Q1.host,S=1,W=2";
  auto back = parse_envelope(envelope_text(e), "/data/queue/messages");
  REQUIRE(back);
  CHECK(back->id == e.id);
  CHECK(back->sender == e.sender);
  REQUIRE(back->recipients.size() == 2);
  CHECK(back->recipients[0].state == RecipientState::kDelivered);
  CHECK(back->recipients[1].last_reply == "451 4.3.0 later");
  CHECK(back->size == 1234);
  CHECK(back->queued_at == e.queued_at);
  CHECK(back->next_attempt_at == e.next_attempt_at);
  CHECK(back->last_attempt_at == e.last_attempt_at);
  CHECK(back->attempts == 3);
  CHECK(back->last_error == e.last_error);
  CHECK(back->bounced);
  CHECK(back->message_path == e.message_path);
  CHECK_FALSE(back->finished());
  back->recipients[1].state = RecipientState::kFailed;
  CHECK(back->finished());

  CHECK_FALSE(parse_envelope("{", "/m"));
  CHECK_FALSE(parse_envelope("{\"version\":1}", "/m"));
  e.message_path = "/elsewhere/../../etc/passwd";
  std::string text = envelope_text(e);
  CHECK_FALSE(parse_envelope(text, "/m"));  // "etc/passwd" is not new/ or cur/
}

TEST_CASE("enqueue, list oldest first, get, update, open_message, remove") {
  QueueDir d("queue");
  auto& [tmp, q] = d;
  CHECK(q.list()->empty());

  auto m1 = commit_message(q, kMessage);
  auto m2 = commit_message(q, "Subject: two\n\nsecond\n");
  auto e2 = q.enqueue(m2, "alice@example.test", {"x@remote.test"}, 2000);
  REQUIRE(e2);
  auto e1 = q.enqueue(m1, "alice@example.test", {"b@remote.test", "c@remote.test"}, 1000);
  REQUIRE(e1);
  CHECK(e1->size == m1.wire_size);
  CHECK(e1->recipients.size() == 2);
  CHECK(e1->recipients[0].state == RecipientState::kPending);
  CHECK(fs::exists(tmp.sub("queue/envelopes/" + e1->id + ".json")));
  CHECK((fs::status(tmp.sub("queue/envelopes/" + e1->id + ".json")).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));

  auto all = q.list();
  REQUIRE(all);
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].id == e1->id);  // queued at 1000, before 2000
  CHECK((*all)[1].id == e2->id);

  auto got = q.get(e1->id);
  REQUIRE(got);
  CHECK(got->sender == "alice@example.test");
  CHECK(got->message_path == m1.path);
  CHECK(q.get("1.nothing").error().code == ErrorCode::kNotFound);
  CHECK(q.get("../../etc").error().code == ErrorCode::kNotFound);

  {
    auto held = q.lock(e1->id);
    REQUIRE(held);
    got->recipients[0].state = RecipientState::kDelivered;
    got->recipients[0].last_reply = "250 ok";
    got->attempts = 1;
    got->last_attempt_at = 1500;
    got->next_attempt_at = 1800;
    REQUIRE(q.update(*got));
  }
  auto again = q.get(e1->id);
  REQUIRE(again);
  CHECK(again->recipients[0].state == RecipientState::kDelivered);
  CHECK(again->recipients[0].last_reply == "250 ok");
  CHECK(again->attempts == 1);
  CHECK(again->next_attempt_at == 1800);

  auto reader = q.open_message(*again, WireMode::kDotStuffed);
  REQUIRE(reader);
  std::string wire;
  while (true) {
    auto n = (*reader)->read(wire, 4096);
    REQUIRE(n);
    if (*n == 0) break;
  }
  CHECK(wire == "From: a@example.test\r\nTo: b@remote.test\r\nSubject: hi\r\n\r\nbody\r\n..dot line\r\n");

  {
    auto held = q.lock(e1->id);
    REQUIRE(held);
    REQUIRE(q.remove(*again));
  }
  CHECK(q.get(e1->id).error().code == ErrorCode::kNotFound);
  CHECK_FALSE(fs::exists(m1.path));
  CHECK_FALSE(fs::exists(tmp.sub("queue/locks/" + e1->id)));
  CHECK(q.list()->size() == 1);
  CHECK(q.update(*again).error().code == ErrorCode::kNotFound);  // never brought back
  CHECK(q.lock(e1->id).error().code == ErrorCode::kNotFound);
}

TEST_CASE("lock: a second holder gets kInUse until the first lets go") {
  QueueDir d("queue-lock");
  auto& [tmp, q] = d;
  auto e = q.enqueue(commit_message(q, kMessage), "a@example.test", {"b@remote.test"}, 1);
  REQUIRE(e);
  auto first = q.lock(e->id);
  REQUIRE(first);
  OutboundQueue other(tmp.sub("queue"));  // another process's view: its own open file
  auto second = other.lock(e->id);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == ErrorCode::kInUse);
  first->reset();
  CHECK(other.lock(e->id));
  CHECK(q.lock("1.no.such.id").error().code == ErrorCode::kNotFound);
}

TEST_CASE("remove_orphans: message files without an envelope, old enough; queued ones stay") {
  QueueDir d("queue-orphans");
  auto& [tmp, q] = d;
  auto queued = q.enqueue(commit_message(q, kMessage), "a@example.test", {"b@remote.test"}, 1);
  REQUIRE(queued);
  auto orphan = commit_message(q, "Subject: never queued\n\nx\n");  // a crash before enqueue()
  write_text(tmp.sub("queue/locks/1.gone.host"), "");               // a crash inside remove()
  const int64_t now = std::time(nullptr);

  auto young = q.remove_orphans(now, 3600);
  REQUIRE(young);
  CHECK(*young == 0);
  CHECK(fs::exists(orphan.path));

  auto removed = q.remove_orphans(now + 7200, 3600);
  REQUIRE(removed);
  CHECK(*removed == 1);
  CHECK_FALSE(fs::exists(orphan.path));
  CHECK(fs::exists(queued->message_path));
  CHECK(q.get(queued->id));
  CHECK_FALSE(fs::exists(tmp.sub("queue/locks/1.gone.host")));
}

TEST_CASE("a broken envelope is listed with its error, never hidden, never 'finished'") {
  QueueDir d("queue-broken");
  auto& [tmp, q] = d;
  auto good = q.enqueue(commit_message(q, kMessage), "a@example.test", {"b@remote.test"}, 5);
  REQUIRE(good);
  write_text(tmp.sub("queue/envelopes/1.M1P1Q1.broken.json"), "{not json");
  write_text(tmp.sub("queue/envelopes/2.M1P1Q1.huge.json"), std::string(kMaxEnvelopeBytes + 1, ' '));
  write_text(tmp.sub("queue/envelopes/3.x.json.tmp-0123456789abcdef"), "ignored");

  auto all = q.list();
  REQUIRE(all);
  REQUIRE(all->size() == 3);
  int broken = 0;
  for (const auto& e : *all) {
    if (e.id == good->id) continue;
    ++broken;
    CHECK(e.last_error.find("broken envelope") != std::string::npos);
    CHECK(e.recipients.empty());
    CHECK_FALSE(e.finished());
    if (e.id == "2.M1P1Q1.huge") CHECK(e.last_error.find("(the limit is ") != std::string::npos);
  }
  CHECK(broken == 2);
  auto get = q.get("1.M1P1Q1.broken");
  REQUIRE_FALSE(get);
  CHECK(get.error().code == ErrorCode::kIo);

  // The administrator removes it by id (mailctl queue remove): the envelope goes.
  QueueEntry by_id;
  by_id.id = "1.M1P1Q1.broken";
  auto held = q.lock(by_id.id);
  REQUIRE(held);
  REQUIRE(q.remove(by_id));
  CHECK(q.list()->size() == 2);

  // A real entry whose envelope got damaged: removing it by id finds its message file by name.
  write_text(tmp.sub("queue/envelopes/" + good->id + ".json"), "[]");
  QueueEntry damaged;
  damaged.id = good->id;
  auto held_good = q.lock(damaged.id);
  REQUIRE(held_good);
  REQUIRE(q.remove(damaged));
  CHECK_FALSE(fs::exists(good->message_path));
  CHECK(q.list()->size() == 1);
}

TEST_CASE("a failed enqueue leaves nothing; the envelope comes after the durable message") {
  QueueDir d("queue-fail");
  auto& [tmp, q] = d;

  SUBCASE("no recipients") {
    auto m = commit_message(q, kMessage);
    auto e = q.enqueue(m, "a@example.test", {}, 1);
    REQUIRE_FALSE(e);
    CHECK_FALSE(fs::exists(m.path));
  }
  SUBCASE("the envelope cannot be written") {
    auto m = commit_message(q, kMessage);
    fs::remove_all(tmp.sub("queue/envelopes"));
    write_text(tmp.sub("queue/envelopes"), "a file where the folder should be");
    auto e = q.enqueue(m, "a@example.test", {"b@remote.test"}, 1);
    REQUIRE_FALSE(e);
    CHECK_FALSE(fs::exists(m.path));
    CHECK(count_files(tmp.sub("queue/messages/new")) == 0);
  }
  SUBCASE("an envelope over the size limit is refused, not written") {
    auto m = commit_message(q, kMessage);
    std::vector<std::string> many(9000, std::string(120, 'r') + "@remote.test");
    auto e = q.enqueue(m, "a@example.test", many, 1);
    REQUIRE_FALSE(e);
    CHECK_FALSE(fs::exists(m.path));
    CHECK(q.list()->empty());
  }
  SUBCASE("a message outside the queue is refused and left alone") {
    auto store = make_maildir_store();
    REQUIRE(store->create_maildir(tmp.sub("inbox")));
    auto w = store->begin_delivery(tmp.sub("inbox"), DeliveryLimits{});
    REQUIRE(w);
    REQUIRE((*w)->append(kMessage));
    auto copy = (*w)->commit();
    REQUIRE(copy);
    auto e = q.enqueue(*copy, "a@example.test", {"b@remote.test"}, 1);
    REQUIRE_FALSE(e);
    CHECK(fs::exists(copy->path));
  }
  SUBCASE("ok: the message file is in new/ and durable before the envelope names it") {
    auto m = commit_message(q, kMessage);
    auto e = q.enqueue(m, "a@example.test", {"b@remote.test"}, 1);
    REQUIRE(e);
    CHECK(fs::exists(e->message_path));
    CHECK(e->message_path.find("/queue/messages/new/") != std::string::npos);
    CHECK(count_files(tmp.sub("queue/envelopes")) == 1);  // no temporary file left behind
  }
}
