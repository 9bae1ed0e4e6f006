// Choosing the back end: the database URL given, recorded in DATA/database.url, or none (SQLite).
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "storage/store_factory.h"
#include "tests/unit/support/temp_dir.h"

namespace st = mailroom::storage;
using mailroom::ErrorCode;
using mailroom::testing::TempDir;

TEST_CASE("the URL given wins, else the recorded one, else none (SQLite)") {
  TempDir tmp;
  CHECK(st::resolve_database_url(tmp.path(), "").value() == "");
  CHECK(st::resolve_database_url(tmp.path(), "postgresql:///a").value() == "postgresql:///a");
  REQUIRE(st::record_database_url(tmp.path(), "postgresql://mail:pw@db/mailroom").ok());
  CHECK(st::resolve_database_url(tmp.path(), "").value() == "postgresql://mail:pw@db/mailroom");
  CHECK(st::resolve_database_url(tmp.path(), "postgresql:///b").value() == "postgresql:///b");
}

TEST_CASE("the recorded URL is private to the owner") {
  TempDir tmp;
  REQUIRE(st::record_database_url(tmp.path(), "postgresql://mail:pw@db/mailroom").ok());
  struct stat info {};
  REQUIRE(::stat((tmp.path() + "/database.url").c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0600);
}

TEST_CASE("an empty database.url is an error that names the file") {
  TempDir tmp;
  { std::ofstream(tmp.path() + "/database.url") << "  \n"; }
  auto url = st::resolve_database_url(tmp.path(), "");
  REQUIRE_FALSE(url.ok());
  CHECK(url.error().message == tmp.path() + "/database.url is empty (it should hold the database URL)");
}

TEST_CASE("only PostgreSQL URLs are accepted, and the refusal masks the password") {
  CHECK(st::check_database_url("postgresql://db/mailroom").ok());
  CHECK(st::check_database_url("postgres://db/mailroom").ok());
  CHECK(st::check_database_url("host=db dbname=mailroom").ok());
  auto bad = st::check_database_url("mysql://root:hunter2@db/mailroom");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code == ErrorCode::kInvalidArgument);
  CHECK(bad.error().message.find("mysql://root:***@db/mailroom") != std::string::npos);
  CHECK(bad.error().message.find("hunter2") == std::string::npos);
  CHECK_FALSE(st::record_database_url("/nonexistent-dir", "sqlite:///x").ok());
}

TEST_CASE("a PostgreSQL server that cannot be reached is a temporary error naming the masked URL") {
  TempDir tmp;
  // A socket directory with no server in it: the connection fails at once.
  const std::string url = "postgresql://mail:hunter2@/mailroom?host=" + tmp.path() + "&connect_timeout=2";
  auto store = st::open_account_store(tmp.sub("data"), /*create=*/false, url);
  REQUIRE_FALSE(store.ok());
  CHECK(store.error().code == ErrorCode::kTemporary);
  CHECK_MESSAGE(store.error().message.find("cannot connect to postgresql://mail:***@/mailroom") != std::string::npos,
                store.error().message);
  CHECK(store.error().message.find("hunter2") == std::string::npos);
}
