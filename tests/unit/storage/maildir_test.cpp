// Maildir MailStore: delivery, listing, wire-form reads, uids, deletion, locking and the listing
// index on real temporary directories.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <future>
#include <iterator>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "storage/mail_store.h"
#include "storage/maildir/maildir_index.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/maildir_store.h"
#include "storage/maildir/wire_form.h"
#include "tests/unit/support/temp_dir.h"

namespace fs = std::filesystem;
using namespace mailroom;
using namespace mailroom::storage;

namespace {

// A fresh directory under /tmp, removed with everything in it at the end of the test.
using mailroom::testing::TempDir;

std::string read_all(MessageReader& reader, std::size_t max) {
  std::string out;
  bool within_bounds = true;  // one assertion, not one per read of a 5 MB message
  bool short_read = false;    // a read returned fewer than max: the next must be the end
  bool short_then_more = false;
  for (;;) {
    std::size_t before = out.size();
    auto r = reader.read(out, max);
    if (!r.ok()) FAIL("read failed: " << r.error().message);
    if (*r > max || out.size() - before != *r) within_bounds = false;
    if (short_read && *r != 0) short_then_more = true;
    if (*r == 0) break;
    short_read = *r < max;
  }
  CHECK(within_bounds);
  CHECK_FALSE(short_then_more);
  return out;
}

std::string retr(Maildrop& drop, std::size_t index, std::size_t max, WireMode mode = WireMode::kPlain) {
  auto reader = drop.open_message(index, mode);
  REQUIRE(reader.ok());
  std::string text = read_all(**reader, max);
  CHECK((*reader)->octets() == drop.messages()[index].size);  // stuffed dots not counted
  return text;
}

// Byte-stuffing as RFC 1939 section 3 states it, line by line, for checking the encoder.
std::string stuff_reference(const std::string& wire) {
  std::string out;
  bool line_start = true;
  for (char c : wire) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  return out;
}

void write_file(const std::string& path, const std::string& content) {
  std::ofstream f(path, std::ios::binary);
  f << content;
  REQUIRE(f.good());
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  return names;
}

struct Fixture {
  TempDir tmp;
  std::unique_ptr<MailStore> store;
  std::string dir;
  explicit Fixture(std::unique_ptr<MailStore> s = make_maildir_store(), const std::string& name = "alice")
      : store(std::move(s)), dir(tmp.path() + "/mail/" + name) {
    REQUIRE(store->create_maildir(dir).ok());
  }

  std::unique_ptr<Maildrop> open() {
    auto r = store->open(dir);
    REQUIRE(r.ok());
    return std::move(r).value();
  }
  std::string deliver(std::string_view message) {
    auto r = store->deliver(dir, message);
    REQUIRE(r.ok());
    return *r;
  }
};

}  // namespace

TEST_CASE("create_maildir makes cur, new and tmp with mode 0700 and is repeatable") {
  TempDir tmp;
  auto store = make_maildir_store();
  std::string dir = tmp.path() + "/a/b/c";
  REQUIRE(store->create_maildir(dir).ok());
  for (const char* sub : {"cur", "new", "tmp"}) {
    struct stat st{};
    REQUIRE(::stat((dir + "/" + sub).c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 0777) == 0700);
  }
  CHECK(store->create_maildir(dir).ok());
  write_file(tmp.path() + "/file", "x");
  auto bad = store->create_maildir(tmp.path() + "/file/sub");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kIo);
}

TEST_CASE("a delivered message is listed with its wire size and read back with CRLF") {
  Fixture f;
  std::string uid = f.deliver("Subject: hi\n\nhello\n");
  auto files = files_in(f.dir + "/new");
  REQUIRE(files.size() == 1);
  CHECK(files[0].find(",S=19,W=22") != std::string::npos);
  CHECK(files_in(f.dir + "/tmp").empty());

  auto drop = f.open();
  REQUIRE(drop->messages().size() == 1);
  const auto& m = drop->messages()[0];
  CHECK(m.uid == uid);
  CHECK(m.size == 22);
  CHECK(m.path == f.dir + "/new/" + files[0]);
  const std::string expected = "Subject: hi\r\n\r\nhello\r\n";
  CHECK(retr(*drop, 0, 7) == expected);
  CHECK(retr(*drop, 0, 1) == expected);
  CHECK(retr(*drop, 0, 1 << 20) == expected);
}

TEST_CASE("the stored file holds LF line ends only") {
  Fixture f;
  f.deliver("a\r\nb\r\n");
  auto files = files_in(f.dir + "/new");
  REQUIRE(files.size() == 1);
  std::ifstream in(f.dir + "/new/" + files[0], std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  CHECK(ss.str() == "a\nb\n");
}

TEST_CASE("wire form of awkward messages") {
  struct Case {
    std::string input;
    std::string wire;
  };
  const std::vector<Case> cases = {
      {"no final newline", "no final newline\r\n"},
      {"crlf\r\ninput\r\n", "crlf\r\ninput\r\n"},
      {"mixed\r\nends\nhere", "mixed\r\nends\r\nhere\r\n"},
      {"bare\rcr\n", "bare\rcr\r\n"},
      {"ends in cr\r", "ends in cr\r\r\n"},
      {"cr cr lf\r\r\nx", "cr cr lf\r\nx\r\n"},
      {".starts with dot\n..two\n.\n", ".starts with dot\r\n..two\r\n.\r\n"},
      {std::string("nul\0byte\n\xff\x80\xc3\xa9\n", 14), std::string("nul\0byte\r\n\xff\x80\xc3\xa9\r\n", 16)},
      {std::string("\0", 1), std::string("\0\r\n", 3)},
      {"\n", "\r\n"},
      {"\n\n\n", "\r\n\r\n\r\n"},
      {"", ""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.input);
    Fixture f;
    f.deliver(c.input);
    auto drop = f.open();
    REQUIRE(drop->messages().size() == 1);
    CHECK(drop->messages()[0].size == c.wire.size());
    CHECK(retr(*drop, 0, 7) == c.wire);
    CHECK(retr(*drop, 0, 2) == c.wire);
    CHECK(retr(*drop, 0, 65536) == c.wire);
    CHECK(retr(*drop, 0, 1, WireMode::kDotStuffed) == stuff_reference(c.wire));
    CHECK(retr(*drop, 0, 65536, WireMode::kDotStuffed) == stuff_reference(c.wire));
  }
}

TEST_CASE("dot-stuffed reads add one dot to each line that starts with one, and only there") {
  Fixture f;
  f.deliver("Subject: .dots\n\n.\n..\nbody . line\n.leading\n\n.\nx.\nend");
  f.deliver(".first line\r\n.crlf stored\r\n\r.cr then dot\n");
  auto drop = f.open();
  REQUIRE(drop->messages().size() == 2);
  const std::string first = "Subject: .dots\r\n\r\n..\r\n...\r\nbody . line\r\n..leading\r\n\r\n..\r\nx.\r\nend\r\n";
  const std::string second = "..first line\r\n..crlf stored\r\n\r.cr then dot\r\n";
  for (std::size_t max = 1; max <= 80; ++max) {  // every read size: a dot at every read boundary
    CAPTURE(max);
    CHECK(retr(*drop, 0, max, WireMode::kDotStuffed) == first);
    CHECK(retr(*drop, 1, max, WireMode::kDotStuffed) == second);
  }
  CHECK(drop->messages()[0].size == first.size() - 4);  // LIST sizes leave the dots out
}

TEST_CASE("the wire encoder matches a byte-by-byte reference for random text cut into random chunks") {
  // Reference: an LF gets a CR unless one precedes it (in the text so far); a final CRLF if the
  // text does not end in LF.
  auto reference = [](const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '\n' && (i == 0 || text[i - 1] != '\r')) out += '\r';
      out += text[i];
    }
    if (!text.empty() && text.back() != '\n') out += "\r\n";
    return out;
  };
  std::mt19937 rng(1939);
  const char alphabet[] = {'a', 'b', '.', ' ', '\n', '\n', '\r'};
  for (int round = 0; round < 300; ++round) {
    std::string text(rng() % 3000, 'x');
    for (auto& c : text) c = alphabet[rng() % sizeof alphabet];
    if (round % 3 == 1) {  // mail-like lines of 0-99 bytes: LFs anywhere in the encoder's 16-byte blocks
      for (auto& c : text) c = rng() % 50 == 0 ? '\n' : alphabet[rng() % 4];
    }
    if (round % 7 == 0) text = std::string(rng() % 2000, '\n');  // nothing but LFs: every one doubles
    if (round % 11 == 0) {  // ".\n" lines: the stuffed text grows most (a dot and a CR per 2 bytes)
      text.clear();
      while (text.size() < 1500) text += rng() % 4 == 0 ? "\n" : ".\n";
    }
    const std::string wire = reference(text);
    for (bool stuffed : {false, true}) {
      maildir::WireEncoder enc(stuffed);
      std::string out = "prefix";  // encode appends
      for (std::size_t pos = 0; pos < text.size();) {
        std::size_t len = 1 + rng() % 700;
        enc.encode(std::string_view(text).substr(pos, len), out);
        pos += len;
      }
      enc.finish(out);
      CAPTURE(round);
      CAPTURE(stuffed);
      REQUIRE(out == "prefix" + (stuffed ? stuff_reference(wire) : wire));
      CHECK(enc.wire_size() == wire.size());  // stuffed dots are not counted
    }
    CHECK(maildir::wire_size_of(text) == wire.size());
  }
}

TEST_CASE("the wire encoder handles an LF whose CR ends the previous chunk") {
  maildir::WireEncoder enc;
  std::string out;
  enc.encode("a\r", out);
  enc.encode("\nb\n", out);
  enc.encode("\n", out);
  enc.encode("c", out);
  enc.finish(out);
  CHECK(out == "a\r\nb\r\n\r\nc\r\n");
  CHECK(enc.wire_size() == out.size());
  CHECK(maildir::wire_size_of("a\r\nb\n\nc") == out.size());
}

TEST_CASE("a 5 MB message streams in bounded reads with the exact size") {
  Fixture f;
  std::string message;
  std::string expected;
  const std::string line(75, 'x');
  for (int i = 0; message.size() < 5 * 1024 * 1024; ++i) {
    std::string l = std::to_string(i) + line;
    message += l + "\n";
    expected += l + "\r\n";
  }
  message += "tail without newline";
  expected += "tail without newline\r\n";
  f.deliver(message);
  auto drop = f.open();
  REQUIRE(drop->messages().size() == 1);
  CHECK(drop->messages()[0].size == expected.size());
  auto reader = drop->open_message(0, WireMode::kPlain);
  REQUIRE(reader.ok());
  std::string got;
  std::size_t max_chunk = 0;
  for (;;) {
    auto r = (*reader)->read(got, 16384);
    if (!r.ok()) FAIL("read failed: " << r.error().message);
    max_chunk = std::max(max_chunk, *r);
    if (*r == 0) break;
  }
  CHECK(max_chunk == 16384);
  CHECK(got.size() == expected.size());
  CHECK(got == expected);
  CHECK(retr(*drop, 0, 7) == expected);
}

TEST_CASE("a read returns fewer bytes than asked only at the end of the message") {
  Fixture f;
  // Sizes around the reader's 64 KiB file chunks, read with RETR's 256 KiB and smaller limits.
  for (std::size_t size : {0u, 1u, 511u, 65535u, 65536u, 65537u, 200000u, 262143u, 262144u, 300000u}) {
    std::string message;
    while (message.size() < size) message += message.size() % 61 == 60 ? '\n' : 'y';
    f.deliver(message);
  }
  auto drop = f.open();
  REQUIRE(drop->messages().size() == 10);
  for (std::size_t i = 0; i < drop->messages().size(); ++i) {
    for (std::size_t max : {std::size_t{4096}, std::size_t{65536}, std::size_t{262144}}) {
      CAPTURE(i);
      CAPTURE(max);
      const std::string got = retr(*drop, i, max);  // read_all checks short reads
      CHECK(got.size() == drop->messages()[i].size);
      // Every LF became CRLF, with a final CRLF where the text did not end in one.
      std::size_t lfs = 0;
      for (std::size_t k = 0; k < got.size(); ++k) {
        if (got[k] != '\n') continue;
        ++lfs;
        CHECK(k > 0);
        if (k > 0) CHECK(got[k - 1] == '\r');
      }
      CHECK(got.find_first_not_of("y\r\n") == std::string::npos);
      if (!got.empty()) CHECK(got.substr(got.size() - 2) == "\r\n");
      CHECK(got.size() - 2 * lfs == static_cast<std::size_t>(std::count(got.begin(), got.end(), 'y')));
    }
  }
}

TEST_CASE("uids are stable across reopen and new deliveries, unique, and valid UIDLs") {
  Fixture f;
  std::vector<std::string> delivered;
  for (int i = 0; i < 20; ++i) delivered.push_back(f.deliver("m" + std::to_string(i) + "\n"));
  std::set<std::string> unique(delivered.begin(), delivered.end());
  CHECK(unique.size() == delivered.size());
  for (const auto& uid : delivered) {
    CHECK(uid.size() >= 1);
    CHECK(uid.size() <= 70);
    for (char c : uid) CHECK((c >= 0x21 && c <= 0x7E));
  }

  auto first = f.open();
  std::vector<std::string> listed;
  for (const auto& m : first->messages()) listed.push_back(m.uid);
  CHECK(listed == delivered);  // also: listing is in delivery order

  // Same-second deliveries far apart in microseconds ("M7563" vs "M22501") keep their order.
  write_file(f.dir + "/new/1.M7563P1Q1.h,W=3", "a\n");
  write_file(f.dir + "/new/1.M22501P1Q2.h,W=3", "b\n");
  auto hand = f.open();
  REQUIRE(hand->messages().size() == 22);
  CHECK(hand->messages()[0].uid == "1.M7563P1Q1.h");
  CHECK(hand->messages()[1].uid == "1.M22501P1Q2.h");
  fs::remove(f.dir + "/new/1.M7563P1Q1.h,W=3");
  fs::remove(f.dir + "/new/1.M22501P1Q2.h,W=3");

  f.deliver("one more\n");
  auto second = f.open();
  REQUIRE(second->messages().size() == 21);
  for (std::size_t i = 0; i < 20; ++i) CHECK(second->messages()[i].uid == delivered[i]);
  CHECK(retr(*second, 20, 100) == "one more\r\n");
}

TEST_CASE("messages are ordered by leading timestamp, then by name") {
  Fixture f;
  write_file(f.dir + "/new/200.b,W=3", "b\n");
  write_file(f.dir + "/cur/1000.a:2,S", "c\n");
  write_file(f.dir + "/new/200.a,W=3", "a\n");
  write_file(f.dir + "/cur/99.z:2,", "z\n");
  auto drop = f.open();
  std::vector<std::string> uids;
  for (const auto& m : drop->messages()) uids.push_back(m.uid);
  CHECK(uids == std::vector<std::string>{"99.z", "200.a", "200.b", "1000.a"});
  CHECK(retr(*drop, 0, 100) == "z\r\n");
  CHECK(retr(*drop, 3, 100) == "c\r\n");
}

TEST_CASE("a message moved from new/ to cur/ keeps its uid and size") {
  Fixture f;
  std::string uid = f.deliver("moved\n");
  auto before = f.open();
  REQUIRE(before->messages().size() == 1);
  uint64_t size = before->messages()[0].size;
  std::string name = files_in(f.dir + "/new").at(0);
  fs::rename(f.dir + "/new/" + name, f.dir + "/cur/" + name + ":2,S");

  // The old snapshot still finds it.
  CHECK(retr(*before, 0, 100) == "moved\r\n");

  auto after = f.open();
  REQUIRE(after->messages().size() == 1);
  CHECK(after->messages()[0].uid == uid);
  CHECK(after->messages()[0].size == size);
  CHECK(after->messages()[0].path == f.dir + "/cur/" + name + ":2,S");
}

TEST_CASE("names without W= get sizes computed from the file") {
  Fixture f;
  write_file(f.dir + "/cur/1500000000.M1P2.host:2,S", "line one\nline two");
  write_file(f.dir + "/new/1500000001.M1P2.host,S=11", "crlf\r\nfile\n");
  auto drop = f.open();
  REQUIRE(drop->messages().size() == 2);
  CHECK(drop->messages()[0].uid == "1500000000.M1P2.host");
  CHECK(drop->messages()[0].size == std::string("line one\r\nline two\r\n").size());
  CHECK(retr(*drop, 0, 3).size() == drop->messages()[0].size);
  CHECK(drop->messages()[1].uid == "1500000001.M1P2.host");
  CHECK(drop->messages()[1].size == std::string("crlf\r\nfile\r\n").size());
  CHECK(retr(*drop, 1, 3) == "crlf\r\nfile\r\n");
}

TEST_CASE("dot files, tmp/ and non-regular entries are not listed") {
  Fixture f;
  write_file(f.dir + "/new/.hidden", "x\n");
  write_file(f.dir + "/tmp/123.pending", "x\n");
  fs::create_directory(f.dir + "/cur/1.subdir");
  fs::create_symlink(f.dir + "/tmp/123.pending", f.dir + "/cur/2.link");
  f.deliver("real\n");
  auto drop = f.open();
  REQUIRE(drop->messages().size() == 1);
  CHECK(retr(*drop, 0, 100) == "real\r\n");
}

TEST_CASE("uid rules: info suffixes stripped, long or odd names hashed") {
  CHECK(maildir::uid_from_name("123.M4P5Q6.host,S=10,W=12:2,S") == "123.M4P5Q6.host");
  CHECK(maildir::uid_from_name("123.host:2,") == "123.host");
  CHECK(maildir::uid_from_name("abc,X=1") == "abc");
  CHECK(maildir::uid_from_name("a,b") == "a,b");
  CHECK(maildir::sha1_hex("abc") == "a9993e364706816aba3e25717850c26c9cd0d89d");
  std::string long_name(71, 'n');
  CHECK(maildir::uid_from_name(long_name) == maildir::sha1_hex(long_name));
  CHECK(maildir::uid_from_name(std::string(70, 'n')) == std::string(70, 'n'));
  CHECK(maildir::uid_from_name("has space") == maildir::sha1_hex("has space"));
  CHECK(maildir::uid_from_name("abc,S=3:2,S").size() == 3);
  CHECK(maildir::wire_size_from_name("1.x,S=10,W=12:2,S") == 12);
  CHECK(maildir::wire_size_from_name("1.x,S=10") == std::nullopt);
  CHECK(maildir::wire_size_from_name("1.x,W=1z") == std::nullopt);
  CHECK(maildir::sanitize_hostname("a/b:c") == "a\\057b\\072c");
  CHECK(maildir::leading_timestamp("1700000000.M1") == 1700000000u);
  CHECK(maildir::leading_timestamp("x1") == 0u);
}

TEST_CASE("delivery order compares timestamps and same-second counters as numbers") {
  using maildir::delivery_order_less;
  CHECK(delivery_order_less("99.z", "100.a"));
  CHECK(delivery_order_less("5.M7563P8314Q28.vm", "5.M22501P8314Q29.vm"));
  CHECK_FALSE(delivery_order_less("5.M22501P8314Q29.vm", "5.M7563P8314Q28.vm"));
  CHECK(delivery_order_less("5.M1P1Q9.h", "5.M1P1Q10.h"));
  CHECK(delivery_order_less("5.a", "5.b"));
  CHECK(delivery_order_less("5.a", "5.a,S=1"));
  CHECK(delivery_order_less("5.a01", "5.a1"));  // equal values: plain byte order decides
  CHECK_FALSE(delivery_order_less("5.a1", "5.a01"));
  CHECK_FALSE(delivery_order_less("5.a", "5.a"));
}

TEST_CASE("two messages sharing a base name still get distinct uids") {
  Fixture f;
  write_file(f.dir + "/new/5.same,S=2", "a\n");
  write_file(f.dir + "/cur/5.same,S=3:2,S", "bb\n");
  auto drop = f.open();
  REQUIRE(drop->messages().size() == 2);
  CHECK(drop->messages()[0].uid != drop->messages()[1].uid);
}

TEST_CASE("commit_deletions removes exactly the chosen messages") {
  Fixture f;
  std::vector<std::string> uids;
  for (int i = 0; i < 5; ++i) uids.push_back(f.deliver("msg " + std::to_string(i) + "\n"));
  auto drop = f.open();
  // One of them was moved to cur/ by another client after we listed it.
  std::string name = fs::path(drop->messages()[3].path).filename().string();
  fs::rename(f.dir + "/new/" + name, f.dir + "/cur/" + name + ":2,S");
  REQUIRE(drop->commit_deletions({1, 3}).ok());
  CHECK_FALSE(fs::exists(f.dir + "/" + maildir::kDeleteIntentFile));
  CHECK_FALSE(fs::exists(f.dir + "/" + maildir::kDeleteIntentTmpFile));

  auto after = f.open();
  std::vector<std::string> left;
  for (const auto& m : after->messages()) left.push_back(m.uid);
  CHECK(left == std::vector<std::string>{uids[0], uids[2], uids[4]});
  CHECK(files_in(f.dir + "/cur").empty());

  // Already-gone messages are not an error; bad indexes are.
  REQUIRE(drop->commit_deletions({1}).ok());
  CHECK(drop->commit_deletions({}).ok());
  CHECK_FALSE(drop->commit_deletions({5}).ok());
  CHECK(f.open()->messages().size() == 3);
}

TEST_CASE("a leftover deletion intent is completed by open()") {
  Fixture f;
  std::vector<std::string> uids;
  for (int i = 0; i < 3; ++i) uids.push_back(f.deliver("msg " + std::to_string(i) + "\n"));
  auto drop = f.open();
  std::string n0 = fs::path(drop->messages()[0].path).filename().string();
  std::string n2 = fs::path(drop->messages()[2].path).filename().string();
  // As if we crashed right after making the intent durable; one entry was already unlinked,
  // one moved to cur/, and a damaged line must be ignored.
  fs::rename(f.dir + "/new/" + n2, f.dir + "/cur/" + n2 + ":2,S");
  write_file(f.dir + "/" + maildir::kDeleteIntentFile,
             "new/" + n0 + "\nnew/" + n2 + "\nnew/already-gone\n../../etc/passwd\nnew/../x\n");
  auto after = f.open();
  REQUIRE(after->messages().size() == 1);
  CHECK(after->messages()[0].uid == uids[1]);
  CHECK_FALSE(fs::exists(f.dir + "/" + maildir::kDeleteIntentFile));
}

TEST_CASE("a second lock on the same maildir fails while the first is held") {
  Fixture f;
  auto first = f.store->lock(f.dir);
  REQUIRE(first.ok());
  auto second = f.store->lock(f.dir);
  REQUIRE_FALSE(second.ok());
  CHECK(second.error().code == ErrorCode::kInUse);
  CHECK(second.error().message == "mailbox is in use by another session");
  first.value().reset();
  auto third = f.store->lock(f.dir);
  CHECK(third.ok());
}

TEST_CASE("a maildrop lock is one per real path, across store instances and threads, and uses no descriptor") {
  Fixture f;
  auto other_store = make_maildir_store();
  const std::string link = f.dir + "-link";
  REQUIRE(::symlink(f.dir.c_str(), link.c_str()) == 0);
  auto count_fds = [] {
    std::size_t n = 0;
    for (auto it = fs::directory_iterator("/proc/self/fd"); it != fs::directory_iterator(); ++it) ++n;
    return n;
  };
  const std::size_t fds_before = count_fds();
  auto first = f.store->lock(f.dir + "/");
  REQUIRE(first.ok());
  CHECK(count_fds() == fds_before);
  for (const std::string& spelling : {f.dir, f.dir + "/", link, f.dir + "/cur/.."}) {
    CAPTURE(spelling);
    auto again = other_store->lock(spelling);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == ErrorCode::kInUse);
  }
  first.value().reset();
  // Eight threads race for it: exactly one wins.
  std::vector<std::unique_ptr<MaildropLock>> won(8);
  {
    std::vector<std::thread> threads;
    for (std::size_t i = 0; i < won.size(); ++i) {
      threads.emplace_back([&, i] {
        auto l = (i % 2 ? other_store : f.store)->lock(f.dir);
        if (l.ok()) won[i] = std::move(l).value();
      });
    }
    for (auto& t : threads) t.join();
  }
  CHECK(std::count_if(won.begin(), won.end(), [](const auto& l) { return l != nullptr; }) == 1);
  won.clear();
  CHECK(f.store->lock(link).ok());
  auto missing = f.store->lock(f.dir + "-nowhere");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kIo);
  CHECK(missing.error().message.find("cannot lock maildir") != std::string::npos);
}

TEST_CASE("committing deletions waits for another holder of the maildir's update lock") {
  Fixture f;
  f.deliver("one\n");
  f.deliver("two\n");
  auto drop = f.open();
  // Another process sharing the maildir, committing its own deletions right now.
  const std::string lock_path = f.dir + "/" + maildir::kUpdateLockFile;
  int other = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  REQUIRE(other >= 0);
  REQUIRE(::flock(other, LOCK_EX) == 0);
  std::atomic<bool> done{false};
  Status result;
  std::thread committer([&] {
    result = drop->commit_deletions({0});
    done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  CHECK_FALSE(done.load());  // blocked behind the other holder: no intent written meanwhile
  CHECK_FALSE(fs::exists(f.dir + "/" + maildir::kDeleteIntentFile));
  ::close(other);  // releases the flock
  committer.join();
  CHECK(done.load());
  CHECK(result.ok());
  CHECK(f.open()->messages().size() == 1);
}

TEST_CASE("delivery to a missing maildir fails clearly and leaves nothing behind") {
  TempDir tmp;
  auto store = make_maildir_store();
  std::string dir = tmp.path() + "/nobody";
  auto r = store->deliver(dir, "hello\n");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kIo);
  CHECK(r.error().message.find("No such file or directory") != std::string::npos);
  CHECK(r.error().message.find(dir) != std::string::npos);
  CHECK(files_in(tmp.path()).empty());

  // new/ missing: the tmp file must not survive the failed rename.
  REQUIRE(store->create_maildir(dir).ok());
  fs::remove(dir + "/new");
  auto r2 = store->deliver(dir, "hello\n");
  REQUIRE_FALSE(r2.ok());
  CHECK(r2.error().code == ErrorCode::kIo);
  CHECK(files_in(dir + "/tmp").empty());

  auto opened = store->open(tmp.path() + "/absent");
  REQUIRE_FALSE(opened.ok());
  CHECK(opened.error().code == ErrorCode::kNotFound);
}

// ------------------------------------------------------------------ the listing index

namespace {

using namespace std::chrono_literals;

// A store whose index is written as soon as the folders' stamps are older than the coarse clock
// (the production default waits a second, for file systems with 1-second timestamps).
struct IndexFixture : Fixture {
  std::string index_path = dir + "/" + maildir::kIndexFile;
  IndexFixture() : Fixture(maildir::make_store({true, 0ns}), "bob") {}

  maildir::DirStamp stamp(const char* sub) const {
    struct stat st{};
    REQUIRE(::stat((dir + "/" + sub).c_str(), &st) == 0);
    return maildir::stamp_from_stat(st);
  }
  // Until the coarse clock has moved past the last change of cur/ and new/ (a few ms).
  void settle() const {
    for (int i = 0; i < 1000; ++i) {
      timespec now{};
      ::clock_gettime(CLOCK_REALTIME_COARSE, &now);
      if (maildir::stamp_settled(stamp("new"), now, 0ns) && maildir::stamp_settled(stamp("cur"), now, 0ns)) return;
      std::this_thread::sleep_for(1ms);
    }
    FAIL("maildir stamps never settled");
  }
  std::string index_text() const {
    std::ifstream in(index_path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  void write_index(const std::string& text) const { write_file(index_path, text); }
};

struct ListingView {
  std::vector<std::string> uids, paths;
  std::vector<uint64_t> sizes;
  bool operator==(const ListingView&) const = default;
};

ListingView listing_of(const Maildrop& drop) {
  ListingView l;
  for (const auto& m : drop.messages()) {
    l.uids.push_back(m.uid);
    l.paths.push_back(m.path);
    l.sizes.push_back(m.size);
  }
  return l;
}

}  // namespace

TEST_CASE("index text round-trips, and any damage to it is detected") {
  maildir::IndexContents in;
  in.new_dir = {1, 2, 1700000000, 5, 1700000001, 6};
  in.cur_dir = {1, 3, 1700000002, 7, 1700000003, 999999999};
  in.entries.push_back({'n', 22, "", "1.M1P1.h,S=19,W=22"});
  in.entries.push_back({'c', 5, "0123456789abcdef0123456789abcdef01234567", "2.has space:2,S"});
  std::string text = maildir::encode_index(in);
  auto out = maildir::decode_index(text);
  REQUIRE(out.has_value());
  CHECK(out->new_dir == in.new_dir);
  CHECK(out->cur_dir == in.cur_dir);
  REQUIRE(out->entries.size() == 2);
  CHECK(out->entries[0].sub == 'n');
  CHECK(out->entries[0].size == 22);
  CHECK(out->entries[0].uid.empty());
  CHECK(out->entries[0].name == "1.M1P1.h,S=19,W=22");
  CHECK(out->entries[1].sub == 'c');
  CHECK(out->entries[1].uid == in.entries[1].uid);
  CHECK(out->entries[1].name == "2.has space:2,S");

  // Every single-byte change, and every truncation, is refused.
  bool all_refused = true;
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::string damaged = text;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x01);
    if (maildir::decode_index(damaged)) all_refused = false;
    if (maildir::decode_index(std::string_view(text).substr(0, i))) all_refused = false;
  }
  CHECK(all_refused);
  CHECK_FALSE(maildir::decode_index(""));
  CHECK_FALSE(maildir::decode_index(text + text));
}

TEST_CASE("an index with a valid checksum but a bad entry is still refused") {
  maildir::IndexContents in;
  for (std::string_view bad : {"../escape", ".hidden", "", "a/b"}) {
    in.entries = {{'n', 1, "", bad}};
    CHECK_FALSE(maildir::decode_index(maildir::encode_index(in)));
  }
  in.entries = {{'n', 1, "bad\x01uid", "1.x"}};  // a control character: not a UIDL
  CHECK_FALSE(maildir::decode_index(maildir::encode_index(in)));
  in.entries = {{'n', 1, "", "has space"}};     // "-" would make the uid "has space"
  CHECK_FALSE(maildir::decode_index(maildir::encode_index(in)));
  in.entries = {{'x', 1, "", "1.x"}};           // neither new/ nor cur/
  CHECK_FALSE(maildir::decode_index(maildir::encode_index(in)));
  in.entries = {{'c', 1, "", "1.x"}};
  CHECK(maildir::decode_index(maildir::encode_index(in)));
}

TEST_CASE("stamps count as settled only when older than the clock minus the settle time") {
  maildir::DirStamp s{1, 2, 100, 500, 100, 600};
  CHECK(maildir::stamp_settled(s, timespec{100, 601}, 0ns));
  CHECK_FALSE(maildir::stamp_settled(s, timespec{100, 600}, 0ns));  // same tick: not yet
  CHECK_FALSE(maildir::stamp_settled(s, timespec{101, 0}, 1s));
  CHECK(maildir::stamp_settled(s, timespec{101, 601}, 1s));
  maildir::DirStamp later_mtime{1, 2, 200, 0, 100, 0};  // mtime set ahead by a tool
  CHECK_FALSE(maildir::stamp_settled(later_mtime, timespec{150, 0}, 0ns));
}

TEST_CASE("a settled maildir is indexed and then opened from the index alone") {
  IndexFixture f;
  for (int i = 0; i < 5; ++i) f.deliver("message " + std::to_string(i) + "\n");
  write_file(f.dir + "/cur/1500000000.M1P2.host:2,S", "no size tag\n");
  f.settle();
  auto scanned = f.open();
  REQUIRE(fs::exists(f.index_path));
  const std::string text = f.index_text();  // the decoded entries point into it
  auto index = maildir::decode_index(text);
  REQUIRE(index.has_value());
  CHECK(index->entries.size() == 6);
  CHECK(index->new_dir == f.stamp("new"));
  CHECK(index->cur_dir == f.stamp("cur"));

  auto cached = f.open();
  CHECK(listing_of(*cached) == listing_of(*scanned));
  CHECK(retr(*cached, 0, 100) == "no size tag\r\n");
  CHECK(retr(*cached, 5, 100) == "message 4\r\n");

  // Proof that the second open believed the index: an edited (but intact) index is what open()
  // returns while the folders are unchanged.
  index->entries[1].size = 12345;
  f.write_index(maildir::encode_index(*index));
  CHECK(f.open()->messages()[1].size == 12345);
}

TEST_CASE("the index keeps uids that are not the name's base: hashed and duplicate ones") {
  IndexFixture f;
  write_file(f.dir + "/new/5.same,S=2", "a\n");
  write_file(f.dir + "/cur/5.same,S=3:2,S", "bb\n");
  write_file(f.dir + "/new/6.has space", "c\n");
  f.settle();
  auto scanned = f.open();
  REQUIRE(scanned->messages().size() == 3);
  REQUIRE(fs::exists(f.index_path));
  auto cached = f.open();
  CHECK(listing_of(*cached) == listing_of(*scanned));
  CHECK(cached->messages()[0].uid != cached->messages()[1].uid);
  CHECK(cached->messages()[2].uid == maildir::sha1_hex("6.has space"));
}

TEST_CASE("messages delivered after the index was written are seen, however soon") {
  IndexFixture f;
  f.deliver("first\n");
  f.settle();
  for (int round = 0; round < 20; ++round) {
    auto before = f.open();  // writes the index (round 0) or reads it
    // Straight after: same clock tick as the index, in most rounds.
    std::string uid = f.deliver("round " + std::to_string(round) + "\n");
    auto after = f.open();
    REQUIRE(after->messages().size() == before->messages().size() + 1);
    CHECK(after->messages().back().uid == uid);
    f.settle();
  }
  // Another tool dropping a file into new/ (no rename through tmp/) is seen too.
  f.open();
  write_file(f.dir + "/new/9999999999.other.host", "from elsewhere\n");
  auto drop = f.open();
  CHECK(drop->messages().back().uid == "9999999999.other.host");
  CHECK(drop->messages().back().size == std::string("from elsewhere\r\n").size());
}

TEST_CASE("messages deleted or moved by another client are seen despite the index") {
  IndexFixture f;
  std::vector<std::string> uids;
  for (int i = 0; i < 4; ++i) uids.push_back(f.deliver("m" + std::to_string(i) + "\n"));
  f.settle();
  auto first = f.open();
  REQUIRE(fs::exists(f.index_path));
  fs::remove(first->messages()[1].path);
  std::string moved = fs::path(first->messages()[2].path).filename().string();
  fs::rename(f.dir + "/new/" + moved, f.dir + "/cur/" + moved + ":2,S");
  auto after = f.open();
  REQUIRE(after->messages().size() == 3);
  CHECK(after->messages()[0].uid == uids[0]);
  CHECK(after->messages()[1].uid == uids[2]);
  CHECK(after->messages()[1].path == f.dir + "/cur/" + moved + ":2,S");
  CHECK(after->messages()[2].uid == uids[3]);

  // Our own deletions too.
  f.settle();
  auto again = f.open();
  REQUIRE(again->commit_deletions({0}).ok());
  auto left = f.open();
  REQUIRE(left->messages().size() == 2);
  CHECK(left->messages()[0].uid == uids[2]);
}

TEST_CASE("a damaged, truncated, foreign or empty index is ignored and rewritten") {
  IndexFixture f;
  for (int i = 0; i < 3; ++i) f.deliver("m" + std::to_string(i) + "\n");
  f.settle();
  ListingView truth = listing_of(*f.open());
  const std::string good = f.index_text();
  REQUIRE_FALSE(good.empty());

  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x20;
  std::string wrong_count = good;
  wrong_count.replace(wrong_count.find("count 3"), 7, "count 9");
  const std::vector<std::string> broken = {
      good.substr(0, good.size() / 2),  // truncated (a crash mid-write, a full disk)
      good.substr(0, good.size() - 1),  // just the last LF missing
      flipped,
      wrong_count,
      "",
      "mailroom-maildir-index 999\n" + good.substr(good.find('\n') + 1),
      std::string(4096, '\0'),
  };
  for (const auto& text : broken) {
    f.write_index(text);
    CHECK(listing_of(*f.open()) == truth);
    CHECK(f.index_text() == good);  // rebuilt: the folders did not change, so the same text
  }
  // Not a regular file: ignored (and left alone, as it is not ours to remove).
  fs::remove(f.index_path);
  fs::create_directory(f.index_path);
  CHECK(listing_of(*f.open()) == truth);
  fs::remove(f.index_path);
}

TEST_CASE("a maildir changed within the settle time is listed but not indexed") {
  TempDir tmp;
  auto store = maildir::make_store({true, std::chrono::hours(1)});
  std::string dir = tmp.path() + "/carol";
  REQUIRE(store->create_maildir(dir).ok());
  REQUIRE(store->deliver(dir, "hi\n").ok());
  auto r = store->open(dir);
  REQUIRE(r.ok());
  CHECK((*r)->messages().size() == 1);
  CHECK_FALSE(fs::exists(dir + "/" + maildir::kIndexFile));
  CHECK_FALSE(fs::exists(dir + "/" + maildir::kIndexTmpFile));

  auto plain = maildir::make_store({false, 0ns});
  REQUIRE(plain->open(dir).ok());
  CHECK_FALSE(fs::exists(dir + "/" + maildir::kIndexFile));
}

// ------------------------------------------------------------------ what a maildrop may read
//
// Whoever can write the maildir (its user, a delivery agent gone wrong) must not make the daemon
// read, write or delete anything outside cur/ and new/, and one bad entry must not take the
// whole mailbox down.

namespace {

// A readable file outside the maildir that nothing must ever serve.
std::string plant_secret(const Fixture& f) {
  const std::string path = f.tmp.path() + "/secret";
  write_file(path, "SECRET outside the maildir\n");
  return path;
}

// Opens message `index` and reads it whole; "" if open or read fail (what RETR would refuse).
std::string read_or_empty(Maildrop& drop, std::size_t index) {
  auto reader = drop.open_message(index, WireMode::kPlain);
  if (!reader.ok()) return "";
  std::string out;
  for (;;) {
    auto r = (*reader)->read(out, 65536);
    if (!r.ok()) return "";
    if (*r == 0) return out;
  }
}

// Makes files with mode 000 unreadable for this thread while it lives, also as root: root reads
// them through CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH, dropped here from the thread's effective
// set (the permitted set keeps them, so they come back at the end). The scan runs on the calling
// thread in these tests.
class WithoutDacOverride {
 public:
  WithoutDacOverride() {
    if (::geteuid() != 0) {
      active_ = true;
      return;
    }
    if (::syscall(SYS_capget, &header_, saved_) != 0) return;
    __user_cap_data_struct lowered[2] = {saved_[0], saved_[1]};
    lowered[0].effective &= ~(CAP_TO_MASK(CAP_DAC_OVERRIDE) | CAP_TO_MASK(CAP_DAC_READ_SEARCH));
    if (::syscall(SYS_capset, &header_, lowered) != 0) return;
    dropped_ = true;
    active_ = true;
  }
  ~WithoutDacOverride() {
    if (dropped_) ::syscall(SYS_capset, &header_, saved_);
  }
  WithoutDacOverride(const WithoutDacOverride&) = delete;
  WithoutDacOverride& operator=(const WithoutDacOverride&) = delete;
  // False if running as root and the capabilities could not be dropped (then mode 000 proves nothing).
  bool active() const { return active_; }

 private:
  __user_cap_header_struct header_{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct saved_[2] = {};
  bool active_ = false;
  bool dropped_ = false;
};

}  // namespace

TEST_CASE("a message swapped for a symlink after the scan is refused, and nothing outside is read") {
  Fixture f;
  f.deliver("one\n");
  f.deliver("two\n");
  f.deliver("three\n");
  auto drop = f.open();
  REQUIRE(drop->messages().size() == 3);
  const std::string secret = plant_secret(f);

  // To a file outside the maildir, and to another message of the same maildir: a message is a
  // regular file, never a link to one.
  const std::string first = drop->messages()[0].path;
  fs::remove(first);
  fs::create_symlink(secret, first);
  const std::string second = drop->messages()[1].path;
  fs::remove(second);
  fs::create_symlink(drop->messages()[2].path, second);

  auto r0 = drop->open_message(0, WireMode::kPlain);
  CHECK_FALSE(r0.ok());
  CHECK(read_or_empty(*drop, 0).find("SECRET") == std::string::npos);
  CHECK_FALSE(drop->open_message(1, WireMode::kDotStuffed).ok());
  CHECK(retr(*drop, 2, 100) == "three\r\n");  // the rest is served

  // The same through a maildir path that is itself a symlink (allowed: it is the administrator's).
  const std::string link = f.tmp.path() + "/maildir-link";
  fs::create_symlink(f.dir, link);
  auto via_link = f.store->open(link);
  REQUIRE(via_link.ok());
  REQUIRE((*via_link)->messages().size() == 1);  // symlinks are not listed
  CHECK(retr(**via_link, 0, 100) == "three\r\n");
  const std::string third = (*via_link)->messages()[0].path;
  fs::remove(third);
  fs::create_symlink(secret, third);
  CHECK(read_or_empty(**via_link, 0).find("SECRET") == std::string::npos);
  CHECK_FALSE((*via_link)->open_message(0, WireMode::kPlain).ok());
}

TEST_CASE("a folder swapped for a symlink is not followed, for reads, listings or deletions") {
  Fixture f;
  f.deliver("one\n");
  auto drop = f.open();
  REQUIRE(drop->messages().size() == 1);
  const std::string name = fs::path(drop->messages()[0].path).filename().string();
  // A directory elsewhere holding a file of the same name, and new/ made a link to it.
  const std::string elsewhere = f.tmp.path() + "/elsewhere";
  fs::create_directory(elsewhere);
  write_file(elsewhere + "/" + name, "SECRET behind a symlinked folder\n");
  fs::rename(f.dir + "/new", f.dir + "/new.real");
  fs::create_symlink(elsewhere, f.dir + "/new");

  CHECK(read_or_empty(*drop, 0).find("SECRET") == std::string::npos);
  // A new listing does not show what lies behind the link (the maildir is refused as broken).
  auto reopened = f.store->open(f.dir);
  if (reopened.ok()) {
    for (std::size_t i = 0; i < (*reopened)->messages().size(); ++i) {
      CHECK(read_or_empty(**reopened, i).find("SECRET") == std::string::npos);
    }
  }
  // A deletion intent naming it unlinks nothing behind the link.
  write_file(f.dir + "/" + maildir::kDeleteIntentFile, "new/" + name + "\n");
  (void)f.store->open(f.dir);
  CHECK(fs::exists(elsewhere + "/" + name));
}

TEST_CASE("a message swapped for a FIFO or a directory after the scan fails at once") {
  Fixture f;
  f.deliver("one\n");
  f.deliver("two\n");
  f.deliver("three\n");
  auto drop = f.open();
  REQUIRE(drop->messages().size() == 3);
  const std::string fifo = drop->messages()[0].path;
  fs::remove(fifo);
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string subdir = drop->messages()[1].path;
  fs::remove(subdir);
  fs::create_directory(subdir);

  // Opening a FIFO for reading waits for a writer: a worker thread must never hang there.
  auto opened = std::async(std::launch::async, [&] { return drop->open_message(0, WireMode::kPlain).ok(); });
  if (opened.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    int writer = ::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);  // releases it
    CHECK_MESSAGE(false, "open_message blocked on a FIFO");
    if (writer >= 0) ::close(writer);
  }
  CHECK_FALSE(opened.get());
  CHECK_FALSE(drop->open_message(1, WireMode::kPlain).ok());
  CHECK(retr(*drop, 2, 100) == "three\r\n");
}

TEST_CASE("a forged index names nothing but regular files of cur/ and new/") {
  IndexFixture f;
  f.deliver("real\n");
  const std::string secret = plant_secret(f);
  // Symlinks present when the maildir is scanned are not listed ...
  fs::create_symlink(secret, f.dir + "/new/2.link");
  fs::create_symlink(secret, f.dir + "/cur/3.link:2,S");
  f.settle();
  auto scanned = f.open();
  REQUIRE(scanned->messages().size() == 1);
  CHECK(retr(*scanned, 0, 100) == "real\r\n");
  REQUIRE(fs::exists(f.index_path));

  // ... and an index that lists them anyway (with the folders' current stamps, so it is believed
  // as a cache), or names that are not in the folders, gets none of them served.
  const std::string text = f.index_text();
  auto index = maildir::decode_index(text);
  REQUIRE(index.has_value());
  index->entries.push_back({'n', 27, "", "2.link"});
  index->entries.push_back({'c', 27, "", "3.link:2,S"});
  index->entries.push_back({'n', 27, "", "4.not-in-the-folder"});
  f.write_index(maildir::encode_index(*index));
  auto forged = f.open();
  REQUIRE(forged->messages().size() >= 1);
  std::size_t served = 0;
  for (std::size_t i = 0; i < forged->messages().size(); ++i) {
    CAPTURE(i);
    const std::string got = read_or_empty(*forged, i);
    CHECK(got.find("SECRET") == std::string::npos);
    if (!got.empty()) ++served;
  }
  CHECK(served == 1);

  // Names that would leave the folder invalidate the whole index: the maildir is scanned.
  for (std::string_view escape : {"../../secret", "../secret", "..", "."}) {
    CAPTURE(escape);
    auto bad = maildir::decode_index(text);
    REQUIRE(bad.has_value());
    bad->entries.push_back({'n', 27, "", escape});
    f.write_index(maildir::encode_index(*bad));
    auto drop = f.open();
    CHECK(listing_of(*drop) == listing_of(*scanned));
  }
}

TEST_CASE("a message the scan cannot read is skipped, and the others are listed and served") {
  IndexFixture f;
  f.deliver("first\n");
  // No W= in the name: the scan must read it to learn its wire size.
  const std::string unreadable = f.dir + "/cur/1500000000.M1P1.host:2,S";
  write_file(unreadable, "unreadable\n");
  REQUIRE(::chmod(unreadable.c_str(), 0) == 0);
  // Entries that are no message at all are skipped as before: a FIFO, a directory and a dangling
  // symlink named like messages.
  REQUIRE(::mkfifo((f.dir + "/new/1500000001.M1P1.fifo").c_str(), 0600) == 0);
  fs::create_directory(f.dir + "/cur/1500000002.M1P1.dir");
  fs::create_symlink(f.dir + "/nowhere", f.dir + "/new/1500000003.M1P1.dangling");
  f.deliver("second\n");
  f.settle();
  {
    WithoutDacOverride unprivileged;
    if (!unprivileged.active()) {
      MESSAGE("skipped: running as root and CAP_DAC_OVERRIDE cannot be dropped, so mode 000 is readable");
      return;
    }
    auto r = f.store->open(f.dir);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
    auto& drop = *r;
    REQUIRE(drop->messages().size() == 2);
    CHECK(retr(*drop, 0, 100) == "first\r\n");
    CHECK(retr(*drop, 1, 100) == "second\r\n");
    // Not kept in the index: once readable it must show up although the folders did not change.
    auto again = f.store->open(f.dir);
    REQUIRE(again.ok());
    CHECK((*again)->messages().size() == 2);
  }
  REQUIRE(::chmod(unreadable.c_str(), 0600) == 0);
  auto fixed = f.open();
  REQUIRE(fixed->messages().size() == 3);
  CHECK(retr(*fixed, 0, 100) == "unreadable\r\n");
}

TEST_CASE("a deletion intent's temp file left by a crash is removed at open; a real intent is still completed") {
  Fixture f;
  for (int i = 0; i < 3; ++i) f.deliver("msg " + std::to_string(i) + "\n");
  auto drop = f.open();
  const std::string n0 = fs::path(drop->messages()[0].path).filename().string();
  const std::string n1 = fs::path(drop->messages()[1].path).filename().string();
  const std::string tmp_path = f.dir + "/" + maildir::kDeleteIntentTmpFile;
  const std::string intent_path = f.dir + "/" + maildir::kDeleteIntentFile;

  // A crash before the rename: nothing was promised, so nothing is deleted, and the temp file goes.
  write_file(tmp_path, "new/" + n1 + "\n");
  CHECK(f.open()->messages().size() == 3);
  CHECK_FALSE(fs::exists(tmp_path));

  // Both left over: the intent is carried out, the temp file is only removed.
  write_file(tmp_path, "new/" + n1 + "\n");
  write_file(intent_path, "new/" + n0 + "\n");
  auto after = f.open();
  REQUIRE(after->messages().size() == 2);
  CHECK(fs::path(after->messages()[0].path).filename().string() == n1);
  CHECK_FALSE(fs::exists(tmp_path));
  CHECK_FALSE(fs::exists(intent_path));
}

TEST_CASE("committing deletions never writes through a symlink planted as the intent's temp file") {
  Fixture f;
  f.deliver("one\n");
  f.deliver("two\n");
  auto drop = f.open();
  const std::string secret = plant_secret(f);
  fs::create_symlink(secret, f.dir + "/" + maildir::kDeleteIntentTmpFile);
  CHECK(drop->commit_deletions({0}).ok());
  std::ifstream in(secret);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(content == "SECRET outside the maildir\n");
  CHECK(f.open()->messages().size() == 1);
}

TEST_CASE("name_writer reads the pid and host of Mailroom's unique names only") {
  using storage::maildir::name_writer;
  using storage::maildir::NameWriter;
  CHECK(name_writer("1700000000.M5P4242Q17.mx.example") == NameWriter{4242, "mx.example"});
  CHECK(name_writer("1700000000.M5P4242Q17.mx,S=10,W=12") == NameWriter{4242, "mx"});
  CHECK(name_writer(storage::maildir::make_unique_name()) ==
        NameWriter{static_cast<long long>(::getpid()), storage::maildir::sanitized_hostname()});
  for (const char* other : {"", "1700000000.12345_1.host", "1700000000.M5Q17.host", "1700000000.M5P.host",
                            "1700000000.M5P12Q1.", "x.M5P12Q1.host", "1700000000.M5P12Q1host",
                            "1700000000.M5P1234567890123456789Q1.host"}) {
    CHECK_MESSAGE(!name_writer(other), other);
  }
}
