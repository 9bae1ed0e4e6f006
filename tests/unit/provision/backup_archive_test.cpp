// The backup archive: a tar written by Mailroom reads back with names (long ones through pax),
// modes and contents intact; unsafe names are refused.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "admin-cli/provision/backup_archive.h"
#include "tests/unit/support/temp_dir.h"

namespace pv = mailroom::cli::provision;
using mailroom::testing::TempDir;
namespace fs = std::filesystem;

namespace {

std::string read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t mode_of(const std::string& path) {
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("tar round trip: long names, modes, a file larger than the copy buffer, an empty one") {
  TempDir dir("archive");
  const std::string long_dir = "mail/" + std::string(120, 'd') + "/Maildir/cur";
  const std::string long_name = long_dir + "/" + std::string(150, 'm') + ",S=5,W=6";
  std::string big(3 * pv::kArchiveCopyBufferBytes + 17, 'x');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  {
    auto sink = pv::create_tar_sink(dir.sub("b.tar"));
    REQUIRE(sink);
    REQUIRE((*sink)->add_directory("mail", 0700, 1));
    REQUIRE((*sink)->add_directory(long_dir, 0750, 1));
    REQUIRE((*sink)->add_bytes(long_name, "hello", 0640, 1700000000));
    REQUIRE((*sink)->add_bytes("secrets.key", std::string(32, '\x01'), 0600, 1));
    REQUIRE((*sink)->add_bytes("tls/cert.pem", big, 0644, 1));
    REQUIRE((*sink)->add_bytes("empty", "", 0644, 1));
    REQUIRE((*sink)->finish());
  }
  CHECK(mode_of(dir.sub("b.tar")) == 0600);
  CHECK(fs::file_size(dir.sub("b.tar")) % 512 == 0);
  auto out = pv::create_directory_sink(dir.sub("out"));
  REQUIRE(out);
  REQUIRE(pv::extract_tar(dir.sub("b.tar"), **out));
  REQUIRE((*out)->finish());
  CHECK(read(dir.sub("out/" + long_name)) == "hello");
  CHECK(mode_of(dir.sub("out/" + long_name)) == 0640);
  CHECK(mode_of(dir.sub("out/" + long_dir)) == 0750);
  CHECK(read(dir.sub("out/tls/cert.pem")) == big);
  CHECK(mode_of(dir.sub("out/secrets.key")) == 0600);
  CHECK(read(dir.sub("out/empty")).empty());
}

TEST_CASE("a tar sink never overwrites; a directory sink wants an empty directory") {
  TempDir dir("archive");
  { std::ofstream(dir.sub("x.tar")) << "x"; }
  CHECK(pv::create_tar_sink(dir.sub("x.tar")).error().code == mailroom::ErrorCode::kAlreadyExists);
  CHECK_FALSE(pv::create_directory_sink(dir.path()));
  CHECK(pv::create_directory_sink(dir.path(), /*allow_existing=*/true));
}

TEST_CASE("unsafe entry names are refused") {
  CHECK(pv::safe_entry_name("mail/a/Maildir/cur/1"));
  CHECK_FALSE(pv::safe_entry_name("/etc/passwd"));
  CHECK_FALSE(pv::safe_entry_name("mail/../../etc"));
  CHECK_FALSE(pv::safe_entry_name(".."));
  CHECK_FALSE(pv::safe_entry_name("a//b"));
  CHECK_FALSE(pv::safe_entry_name(""));
  TempDir dir("archive");
  {
    auto sink = pv::create_tar_sink(dir.sub("evil.tar"));
    REQUIRE(sink);
    REQUIRE((*sink)->add_bytes("../escape", "x", 0644, 1));
    REQUIRE((*sink)->finish());
  }
  auto out = pv::create_directory_sink(dir.sub("out"));
  REQUIRE(out);
  auto st = pv::extract_tar(dir.sub("evil.tar"), **out);
  REQUIRE_FALSE(st);
  CHECK(st.error().message.find("refusing the entry name") != std::string::npos);
  CHECK_FALSE(fs::exists(dir.sub("escape")));
}

TEST_CASE("a damaged tar is an error, not a partial success") {
  TempDir dir("archive");
  { std::ofstream(dir.sub("bad.tar")) << std::string(512, 'z'); }
  auto out = pv::create_directory_sink(dir.sub("out"));
  REQUIRE(out);
  CHECK_FALSE(pv::extract_tar(dir.sub("bad.tar"), **out));
}
