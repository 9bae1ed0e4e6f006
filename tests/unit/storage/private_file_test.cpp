// create_private_file / write_file_atomically: a secret is never in a file others can open.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "storage/secrets/private_file.h"
#include "tests/unit/support/temp_dir.h"

namespace fs = std::filesystem;
using mailroom::ErrorCode;
using mailroom::storage::create_private_file;
using mailroom::storage::write_file_atomically;
using mailroom::testing::TempDir;

namespace {

// Sets the process umask for one test and restores it.
class UmaskGuard {
 public:
  explicit UmaskGuard(mode_t mask) : old_(::umask(mask)) {}
  ~UmaskGuard() { ::umask(old_); }
  UmaskGuard(const UmaskGuard&) = delete;
  UmaskGuard& operator=(const UmaskGuard&) = delete;

 private:
  mode_t old_;
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_fd(int fd) {
  std::string out;
  char buf[256];
  ssize_t n = 0;
  while ((n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(out.size()))) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

std::set<std::string> names_in(const std::string& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

}  // namespace

TEST_CASE("a new private file is 0600 from the moment it exists, whatever the umask") {
  TempDir tmp;
  UmaskGuard zero(0);
  auto fd = create_private_file(tmp.sub("key.pem"));
  REQUIRE(fd.ok());
  struct stat st {};
  REQUIRE(::fstat(fd->get(), &st) == 0);
  // Checked on the descriptor the creator got back, before a byte is written: a chmod later
  // could not hide a wider mode here.
  CHECK((st.st_mode & 07777) == 0600);
  CHECK(st.st_size == 0);
}

TEST_CASE("create_private_file never opens a file or symlink that is already there") {
  TempDir tmp;
  UmaskGuard zero(0);
  { std::ofstream(tmp.sub("planted")) << ""; }
  fs::permissions(tmp.sub("planted"), fs::perms(0666));
  auto taken = create_private_file(tmp.sub("planted"));
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.error().code == ErrorCode::kAlreadyExists);
  fs::create_symlink(tmp.sub("target"), tmp.sub("link"));
  auto link = create_private_file(tmp.sub("link"));
  REQUIRE_FALSE(link.ok());
  CHECK_FALSE(fs::exists(tmp.sub("target")));
  auto missing_dir = create_private_file(tmp.sub("no/such/key.pem"));
  REQUIRE_FALSE(missing_dir.ok());
  CHECK(missing_dir.error().code == ErrorCode::kIo);
  CHECK(missing_dir.error().message.find(tmp.sub("no/such/key.pem")) != std::string::npos);
}

TEST_CASE("write_file_atomically gives exactly the mode asked for, whatever the umask") {
  TempDir tmp;
  for (mode_t mask : {mode_t{0}, mode_t{022}, mode_t{077}}) {
    CAPTURE(mask);
    UmaskGuard guard(mask);
    REQUIRE(write_file_atomically(tmp.sub("key.pem"), "-----BEGIN PRIVATE KEY-----\n").ok());
    CHECK(mode_of(tmp.sub("key.pem")) == 0600);
    CHECK(read_all(tmp.sub("key.pem")) == "-----BEGIN PRIVATE KEY-----\n");
    REQUIRE(write_file_atomically(tmp.sub("cert.pem"), "-----BEGIN CERTIFICATE-----\n", 0644).ok());
    CHECK(mode_of(tmp.sub("cert.pem")) == 0644);
  }
  CHECK(names_in(tmp.path()) == std::set<std::string>{"cert.pem", "key.pem"});  // no temporary file left
}

TEST_CASE("write_file_atomically never writes through a file someone else has open") {
  TempDir tmp;
  UmaskGuard zero(0);
  // The old key, and a world-readable file where a naive writer would put its temporary copy:
  // someone holding either open must not get to read the new key.
  { std::ofstream(tmp.sub("key.pem")) << "old"; }
  fs::permissions(tmp.sub("key.pem"), fs::perms(0644));
  { std::ofstream(tmp.sub("key.pem.tmp")) << ""; }
  fs::permissions(tmp.sub("key.pem.tmp"), fs::perms(0666));
  mailroom::storage::UniqueFd old_key(::open(tmp.sub("key.pem").c_str(), O_RDONLY | O_CLOEXEC));
  mailroom::storage::UniqueFd planted(::open(tmp.sub("key.pem.tmp").c_str(), O_RDONLY | O_CLOEXEC));
  REQUIRE(old_key.valid());
  REQUIRE(planted.valid());

  REQUIRE(write_file_atomically(tmp.sub("key.pem"), "new secret").ok());
  CHECK(read_all(tmp.sub("key.pem")) == "new secret");
  CHECK(mode_of(tmp.sub("key.pem")) == 0600);
  CHECK(read_fd(old_key.get()) == "old");
  CHECK(read_fd(planted.get()).empty());
  CHECK(names_in(tmp.path()) == std::set<std::string>{"key.pem", "key.pem.tmp"});
}

TEST_CASE("write_file_atomically into a missing directory fails and names the file") {
  TempDir tmp;
  auto r = write_file_atomically(tmp.sub("tls/key.pem"), "x");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kIo);
  CHECK(r.error().message.find(tmp.sub("tls/key.pem")) != std::string::npos);
  CHECK(names_in(tmp.path()).empty());
}
