// DeliveryWriter (MailStore::begin_delivery): streamed delivery in any split, the size cap,
// abort and RAII, copies for several recipients, a full disk, and the tmp/ clean-up. Checked
// against reference line-ending rules written out here, and against what a Maildrop lists and
// reads back.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "storage/mail_store.h"
#include "storage/maildir/maildir_name.h"
#include "tests/unit/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace mailroom;
using namespace mailroom::storage;

namespace {

using mailroom::testing::TempDir;

// The stored form as the store has always defined it: CRLF -> LF, a lone CR kept.
std::string stored_ref(const std::string& m) {
  std::string out;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\r' && i + 1 < m.size() && m[i + 1] == '\n') continue;
    out += m[i];
  }
  return out;
}

// The wire form of a stored text: LF -> CRLF unless a CR precedes it, a final CRLF if missing.
std::string wire_ref(const std::string& stored) {
  std::string out;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    if (stored[i] == '\n' && (i == 0 || stored[i - 1] != '\r')) out += '\r';
    out += stored[i];
  }
  if (!stored.empty() && stored.back() != '\n') out += "\r\n";
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  return std::string(std::istreambuf_iterator<char>(f), {});
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

std::string read_all(MessageReader& reader) {
  std::string out;
  for (;;) {
    auto r = reader.read(out, 4096);
    REQUIRE(r.ok());
    if (*r == 0) return out;
  }
}

std::unique_ptr<DeliveryWriter> begin(MailStore& store, const std::string& dir, uint64_t cap = kDefaultMaxMessageSize) {
  auto w = store.begin_delivery(dir, DeliveryLimits{.max_wire_size = cap});
  REQUIRE(w.ok());
  return std::move(w).value();
}

// Checks one committed copy: its name, content, sizes, and what a maildrop lists and reads.
void check_delivered(MailStore& store, const DeliveredMessage& d, const std::string& message) {
  const std::string stored = stored_ref(message);
  const std::string wire = wire_ref(stored);
  CHECK(d.stored_size == stored.size());
  CHECK(d.wire_size == wire.size());
  CHECK(read_file(d.path) == stored);
  const std::string name = fs::path(d.path).filename().string();
  CHECK(name.ends_with(",S=" + std::to_string(stored.size()) + ",W=" + std::to_string(wire.size())));
  CHECK(fs::path(d.path).parent_path() == fs::path(d.maildir) / "new");
  CHECK(d.uid == maildir::uid_from_name(name));
  auto drop = store.open(d.maildir);
  REQUIRE(drop.ok());
  const auto& msgs = (*drop)->messages();
  std::size_t index = msgs.size();
  for (std::size_t i = 0; i < msgs.size(); ++i) {
    if (msgs[i].uid == d.uid) index = i;
  }
  REQUIRE(index < msgs.size());
  CHECK(msgs[index].size == wire.size());
  auto reader = (*drop)->open_message(index, WireMode::kPlain);
  REQUIRE(reader.ok());
  CHECK(read_all(**reader) == wire);
}

struct Fixture {
  TempDir tmp;
  std::unique_ptr<MailStore> store = make_maildir_store();
  std::string dir = tmp.path() + "/alice";
  Fixture() { REQUIRE(store->create_maildir(dir).ok()); }
  bool empty() { return files_in(dir + "/tmp").empty() && files_in(dir + "/new").empty(); }
};

// Texts whose line ends straddle chunk boundaries in every way: CRLF, lone CR, CR CR LF, a CR
// or CRLF at the very end, no final line end, a dot line.
const std::vector<std::string> kTricky = {
    "Subject: a\r\n\r\nbody\r\n",
    "x\r\r\ny\r",
    "lone\rcr\nlf only\n",
    "\r\n\r\n.\r\n..\r\n",
    "no final line end",
    "\r",
    "\n",
    "\r\n",
    "mixed\r\nlf\n\r\r\n\rend\r",
};

}  // namespace

TEST_CASE("streamed in two pieces at every split point, the stored and wire forms are the whole text's") {
  Fixture f;
  for (const std::string& m : kTricky) {
    for (std::size_t i = 0; i <= m.size(); ++i) {
      CAPTURE(m);
      CAPTURE(i);
      auto w = begin(*f.store, f.dir);
      REQUIRE(w->append(std::string_view(m).substr(0, i)).ok());
      REQUIRE(w->append(std::string_view(m).substr(i)).ok());
      auto d = w->commit();
      REQUIRE(d.ok());
      check_delivered(*f.store, *d, m);
      fs::remove(d->path);
    }
  }
  CHECK(files_in(f.dir + "/tmp").empty());
}

TEST_CASE("streamed in three pieces at every pair of split points, and a byte at a time") {
  Fixture f;
  for (const std::string& m : kTricky) {
    for (std::size_t i = 0; i <= m.size(); ++i) {
      for (std::size_t j = i; j <= m.size(); ++j) {
        CAPTURE(m);
        CAPTURE(i);
        CAPTURE(j);
        auto w = begin(*f.store, f.dir);
        REQUIRE(w->append(std::string_view(m).substr(0, i)).ok());
        REQUIRE(w->append(std::string_view(m).substr(i, j - i)).ok());
        REQUIRE(w->append(std::string_view(m).substr(j)).ok());
        auto d = w->commit();
        REQUIRE(d.ok());
        CHECK(read_file(d->path) == stored_ref(m));
        CHECK(d->wire_size == wire_ref(stored_ref(m)).size());
        fs::remove(d->path);
      }
    }
    auto w = begin(*f.store, f.dir);
    for (char c : m) REQUIRE(w->append(std::string_view(&c, 1)).ok());
    auto d = w->commit();
    REQUIRE(d.ok());
    check_delivered(*f.store, *d, m);
    fs::remove(d->path);
  }
}

TEST_CASE("a message larger than the write buffer, in odd chunks, matches deliver() of the whole") {
  Fixture f;
  std::string m;
  for (int i = 0; m.size() < 300 * 1024; ++i) m += "line " + std::to_string(i) + (i % 3 ? "\r\n" : i % 5 ? "\n" : "\r");
  m += "end";  // no final line end: commit adds the CRLF to the wire size
  auto w = begin(*f.store, f.dir);
  for (std::size_t pos = 0; pos < m.size(); pos += 4093) REQUIRE(w->append(std::string_view(m).substr(pos, 4093)).ok());
  CHECK(w->wire_size() == wire_ref(stored_ref(m)).size() - 2);  // the final CRLF only at commit
  auto d = w->commit();
  REQUIRE(d.ok());
  check_delivered(*f.store, *d, m);
  auto uid = f.store->deliver(f.dir, m);
  REQUIRE(uid.ok());
  auto drop = f.store->open(f.dir);
  REQUIRE(drop.ok());
  REQUIRE((*drop)->messages().size() == 2);
  CHECK((*drop)->messages()[0].size == (*drop)->messages()[1].size);
}

TEST_CASE("the size cap counts wire octets; exceeding it fails, keeps failing and leaves nothing") {
  Fixture f;
  SUBCASE("exactly the cap is accepted, LF counted as CRLF") {
    auto w = begin(*f.store, f.dir, 100);
    REQUIRE(w->append(std::string(50, '\n')).ok());
    auto d = w->commit();
    REQUIRE(d.ok());
    CHECK(d->wire_size == 100);
    CHECK(d->stored_size == 50);
  }
  SUBCASE("one LF more fails in append, before anything of it is written") {
    auto w = begin(*f.store, f.dir, 100);
    REQUIRE(w->append(std::string(50, '\n')).ok());
    auto r = w->append("\n");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kPermanent);
    CHECK(r.error().message.find("size limit of 100 bytes") != std::string::npos);
    CHECK(f.empty());  // the tmp file went at once
    auto again = w->append("x");
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().message == r.error().message);
    auto c = w->commit();
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::kPermanent);
    w.reset();
    CHECK(f.empty());
  }
  SUBCASE("the final CRLF commit adds can push it over") {
    auto w = begin(*f.store, f.dir, 10);
    REQUIRE(w->append("123456789").ok());  // 9 octets; 11 with the final CRLF
    auto c = w->commit();
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::kPermanent);
    CHECK(f.empty());
  }
  SUBCASE("a chunk far over the cap is refused without writing a byte of it") {
    auto w = begin(*f.store, f.dir, 1000);
    auto r = w->append(std::string(10 * 1024 * 1024, 'x'));
    REQUIRE_FALSE(r.ok());
    CHECK(f.empty());
  }
}

TEST_CASE("abort, and destruction before commit, leave nothing in tmp/ or new/") {
  Fixture f;
  {
    auto w = begin(*f.store, f.dir);
    REQUIRE(w->append("Subject: x\r\n\r\nbody\r\n").ok());
    CHECK(files_in(f.dir + "/tmp").size() == 1);  // it is being written there
    CHECK(files_in(f.dir + "/new").empty());      // and invisible until commit
    w->abort();
    CHECK(f.empty());
    w->abort();  // harmless twice
    auto r = w->append("more");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == ErrorCode::kInternal);
    REQUIRE_FALSE(w->commit().ok());
  }
  {
    auto w = begin(*f.store, f.dir);
    REQUIRE(w->append(std::string(200 * 1024, 'y')).ok());  // some of it written already
  }
  CHECK(f.empty());
  auto drop = f.store->open(f.dir);
  REQUIRE(drop.ok());
  CHECK((*drop)->messages().empty());
}

TEST_CASE("after commit the writer is spent and the destructor leaves the message in place") {
  Fixture f;
  std::string path;
  {
    auto w = begin(*f.store, f.dir);
    REQUIRE(w->append("hello\n").ok());
    auto d = w->commit();
    REQUIRE(d.ok());
    path = d->path;
    REQUIRE_FALSE(w->append("more").ok());
    REQUIRE_FALSE(w->commit().ok());
    w->abort();  // does not undo a commit
  }
  CHECK(fs::exists(path));
  CHECK(files_in(f.dir + "/tmp").empty());
}

TEST_CASE("commit_to makes one copy per maildir: hard links on one file system") {
  Fixture f;
  const std::string bob = f.tmp.path() + "/bob";
  const std::string carol = f.tmp.path() + "/carol";
  REQUIRE(f.store->create_maildir(bob).ok());
  REQUIRE(f.store->create_maildir(carol).ok());
  const std::string m = "Subject: to three\r\n\r\nhello all\r\n";
  auto w = begin(*f.store, f.dir);
  REQUIRE(w->append(m).ok());
  auto results = w->commit_to({bob, f.dir, carol});
  REQUIRE(results.ok());
  REQUIRE(results->size() == 3);
  std::vector<std::string> uids;
  for (auto& r : *results) {
    REQUIRE(r.ok());
    check_delivered(*f.store, *r, m);
    uids.push_back(r->uid);
  }
  CHECK((*results)[0]->maildir == bob);
  CHECK((*results)[1]->maildir == f.dir);
  CHECK((*results)[2]->maildir == carol);
  CHECK(uids[0] != uids[1]);
  CHECK(uids[1] != uids[2]);
  struct stat a{}, b{};
  REQUIRE(::stat((*results)[0]->path.c_str(), &a) == 0);
  REQUIRE(::stat((*results)[2]->path.c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);  // one stored copy
  CHECK(a.st_nlink == 3);
  for (const auto& d : {f.dir, bob, carol}) CHECK(files_in(d + "/tmp").empty());
}

TEST_CASE("commit_to copies into a maildir on another file system, and a failed target gets its own error") {
  if (!fs::is_directory("/dev/shm")) {
    MESSAGE("skipped: no /dev/shm for a second file system");
    return;
  }
  Fixture f;
  TempDir other("delivery", "/dev/shm");
  struct stat here{}, there{};
  REQUIRE(::stat(f.dir.c_str(), &here) == 0);
  REQUIRE(::stat(other.path().c_str(), &there) == 0);
  if (here.st_dev == there.st_dev) {
    MESSAGE("skipped: /tmp and /dev/shm are one file system here");
    return;
  }
  const std::string far = other.path() + "/far";
  REQUIRE(f.store->create_maildir(far).ok());
  const std::string missing = f.tmp.path() + "/missing";
  const std::string m = "Subject: far\n\nbody\n";
  auto w = begin(*f.store, f.dir);
  REQUIRE(w->append(m).ok());
  auto results = w->commit_to({far, missing, f.dir});
  REQUIRE(results.ok());
  REQUIRE((*results)[0].ok());
  check_delivered(*f.store, *(*results)[0], m);
  CHECK(files_in(far + "/tmp").empty());
  REQUIRE_FALSE((*results)[1].ok());
  CHECK((*results)[1].error().message.find(missing) != std::string::npos);
  CHECK_FALSE(fs::exists(missing));
  REQUIRE((*results)[2].ok());
  check_delivered(*f.store, *(*results)[2], m);
  CHECK(files_in(f.dir + "/tmp").empty());

  // The last target taking the tmp file by rename also falls back to a copy.
  auto w2 = begin(*f.store, f.dir);
  REQUIRE(w2->append(m).ok());
  auto d = w2->commit_to({far});
  REQUIRE(d.ok());
  REQUIRE((*d)[0].ok());
  check_delivered(*f.store, *(*d)[0], m);
  CHECK(files_in(f.dir + "/tmp").empty());
  CHECK(files_in(far + "/tmp").empty());
}

namespace {

// A 1 MiB tmpfs mounted on a temporary directory for the test, unmounted at the end; not
// available without CAP_SYS_ADMIN (then the test says so and skips).
class TinyFs {
 public:
  TinyFs() {
    if (::mount("tmpfs", dir_.path().c_str(), "tmpfs", 0, "size=1m") == 0) {
      mounted_ = true;
    } else {
      why_ = std::strerror(errno);
    }
  }
  ~TinyFs() {
    if (mounted_) ::umount2(dir_.path().c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }
  const std::string& path() const { return dir_.path(); }

 private:
  TempDir dir_;
  bool mounted_ = false;
  std::string why_;
};

}  // namespace

TEST_CASE("a full disk fails with a clear temporary error and leaves nothing behind") {
  TinyFs tiny;
  if (!tiny.mounted()) {
    MESSAGE("skipped: cannot mount a 1 MiB tmpfs (" << tiny.why() << ")");
    return;
  }
  auto store = make_maildir_store();
  const std::string dir = tiny.path() + "/alice";
  REQUIRE(store->create_maildir(dir).ok());
  auto nothing_left = [&] { return files_in(dir + "/tmp").empty() && files_in(dir + "/new").empty(); };

  SUBCASE("while streaming") {
    auto w = begin(*store, dir);
    Status failed;
    const std::string chunk(64 * 1024, 'z');
    for (int i = 0; i < 64 && failed.ok(); ++i) failed = w->append(chunk);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().code == ErrorCode::kTemporary);
    CHECK(failed.error().message.find("No space left on device") != std::string::npos);
    CHECK(failed.error().message.find(dir) != std::string::npos);
    CHECK(nothing_left());
    REQUIRE_FALSE(w->commit().ok());
    CHECK(nothing_left());
  }
  SUBCASE("at commit, writing the last buffered bytes") {
    {
      // Leaves only a few KiB free.
      std::ofstream filler(tiny.path() + "/filler", std::ios::binary);
      filler << std::string(1024 * 1024 - 16 * 1024, 'f');
    }
    auto w = begin(*store, dir);
    REQUIRE(w->append(std::string(40 * 1024, 'q')).ok());  // below the write buffer: nothing written yet
    auto c = w->commit();
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == ErrorCode::kTemporary);
    CHECK(nothing_left());
    fs::remove(tiny.path() + "/filler");
    CHECK(store->deliver(dir, "fits again\n").ok());  // the space was given back
  }
}

TEST_CASE("remove_stale_tmp removes old leftovers in tmp/ only, never a running delivery's file") {
  Fixture f;
  const std::string old_file = f.dir + "/tmp/1000.M1P1Q1.crashed";
  {
    std::ofstream(old_file) << "half a message";
  }
  timespec times[2] = {{1000, 0}, {1000, 0}};
  REQUIRE(::utimensat(AT_FDCWD, old_file.c_str(), times, 0) == 0);
  REQUIRE(f.store->deliver(f.dir, "kept\n").ok());
  auto w = begin(*f.store, f.dir);
  REQUIRE(w->append("in progress\n").ok());
  auto removed = f.store->remove_stale_tmp(f.dir, std::chrono::hours(36));
  REQUIRE(removed.ok());
  CHECK(*removed == 1);
  CHECK_FALSE(fs::exists(old_file));
  CHECK(files_in(f.dir + "/tmp").size() == 1);  // the running delivery's
  CHECK(files_in(f.dir + "/new").size() == 1);
  REQUIRE(w->commit().ok());
  auto missing = f.store->remove_stale_tmp(f.tmp.path() + "/nobody", std::chrono::hours(36));
  CHECK_FALSE(missing.ok());
}

// The pid of a child that exited at once: it names a process that no longer runs.
pid_t dead_pid() {
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  return child;
}

TEST_CASE("remove_stale_tmp removes at once a fresh file whose writer on this host is gone") {
  Fixture f;
  const pid_t child = dead_pid();
  const std::string host = storage::maildir::sanitized_hostname();
  const std::string dead = f.dir + "/tmp/1700000000.M5P" + std::to_string(child) + "Q1." + host;
  const std::string live = f.dir + "/tmp/1700000000.M5P1Q2." + host;          // pid 1 runs
  const std::string elsewhere = f.dir + "/tmp/1700000000.M5P" + std::to_string(child) + "Q3.otherhost";
  const std::string foreign = f.dir + "/tmp/someone-elses-file";
  for (const auto& path : {dead, live, elsewhere, foreign}) std::ofstream(path) << "part";
  auto removed = f.store->remove_stale_tmp(f.dir, std::chrono::hours(36));
  REQUIRE(removed.ok());
  CHECK(*removed == 1);
  CHECK_FALSE(fs::exists(dead));
  CHECK(fs::exists(live));
  CHECK(fs::exists(elsewhere));  // another host's writer (shared storage) may still run
  CHECK(fs::exists(foreign));
}

TEST_CASE("remove_stale_tmp keeps a dead-looking writer's file while its lock is held (another PID namespace)") {
  Fixture f;
  const pid_t child = dead_pid();
  const std::string path = f.dir + "/tmp/1700000000.M5P" + std::to_string(child) + "Q1." +
                           storage::maildir::sanitized_hostname();
  std::ofstream(path) << "being written";
  const int held = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(held >= 0);
  REQUIRE(::flock(held, LOCK_EX | LOCK_NB) == 0);  // as a live writer elsewhere holds it
  auto kept = f.store->remove_stale_tmp(f.dir, std::chrono::hours(36));
  REQUIRE(kept.ok());
  CHECK(*kept == 0);
  CHECK(fs::exists(path));
  ::close(held);  // the writer is gone for good
  auto removed = f.store->remove_stale_tmp(f.dir, std::chrono::hours(36));
  REQUIRE(removed.ok());
  CHECK(*removed == 1);
  CHECK_FALSE(fs::exists(path));
}

TEST_CASE("a running delivery's tmp file is locked until it is committed or aborted") {
  Fixture f;
  auto locked = [&] {
    const auto names = files_in(f.dir + "/tmp");
    REQUIRE(names.size() == 1);
    const int fd = ::open((f.dir + "/tmp/" + names[0]).c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    const bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0;
    ::close(fd);
    return busy;
  };
  auto w = begin(*f.store, f.dir);
  REQUIRE(w->append("line\n").ok());
  CHECK(locked());
  REQUIRE(w->commit().ok());
  CHECK(files_in(f.dir + "/tmp").empty());
  auto a = begin(*f.store, f.dir);
  CHECK(locked());
  a->abort();
  CHECK(files_in(f.dir + "/tmp").empty());
}
