// The mail root: the mail_root daemon setting, else DATA/mail; default Maildirs under it.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "storage/account_store.h"
#include "storage/mail_root.h"
#include "tests/unit/support/temp_dir.h"
#include "tests/unit/support/test_database.h"

namespace st = mailroom::storage;
using mailroom::ErrorCode;
using mailroom::testing::TempDir;

TEST_CASE("mail root: the setting, else DATA/mail") {
  CHECK(st::effective_mail_root("/data", "") == "/data/mail");
  CHECK(st::effective_mail_root("/data", "/srv/mail") == "/srv/mail");
  CHECK(st::effective_mail_root("/data", "/srv/./mail//") == "/srv/mail");
  CHECK(st::default_maildir_under("/srv/mail", st::Address{"bob", "example.test"}) ==
        "/srv/mail/example.test/bob/Maildir");
}

TEST_CASE("mail root: read from the stored daemon setting") {
  TempDir tmp;
  const std::string data = tmp.sub("data");
  auto opened = mailroom::testing::open_account_store(data, true);
  REQUIRE(opened.ok());
  auto& store = **opened;
  CHECK(*st::configured_mail_root(store, data) == data + "/mail");
  REQUIRE(store.set_daemon_setting("mail_root", tmp.sub("shared")).ok());
  CHECK(*st::configured_mail_root(store, data) == tmp.sub("shared"));
}

TEST_CASE("mail root: a configured root must be an existing directory") {
  TempDir tmp;
  const std::string data = tmp.sub("data");
  CHECK(st::check_mail_root_present(data, data + "/mail").ok());  // the default is created when needed
  auto missing = st::check_mail_root_present(data, tmp.sub("not-mounted"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kUnavailable);
  CHECK(missing.error().message.find("the mail_root " + tmp.sub("not-mounted") + " is not there") == 0);
  CHECK(missing.error().message.find("mounted") != std::string::npos);
  std::ofstream(tmp.sub("file")) << "x";
  auto file = st::check_mail_root_present(data, tmp.sub("file"));
  REQUIRE_FALSE(file.ok());
  CHECK(file.error().message.find("is not a directory") != std::string::npos);
  std::filesystem::create_directory(tmp.sub("shared"));
  CHECK(st::check_mail_root_present(data, tmp.sub("shared")).ok());
}

TEST_CASE("mail root: inside a configured mail_root a mailbox may only use its own default Maildir") {
  TempDir tmp;
  const std::string data = tmp.sub("data");
  const std::string root = tmp.sub("shared");
  std::filesystem::create_directory(root);
  auto opened = mailroom::testing::open_account_store(data, true);
  REQUIRE(opened.ok());
  auto& store = **opened;
  REQUIRE(store.add_postoffice("example.test").ok());
  const st::Address bob{"bob", "example.test"};
  // Before the setting, the shared tree is like any other path.
  CHECK(store.check_maildir(bob, root + "/example.test/zed/Maildir").ok());

  REQUIRE(store.set_daemon_setting("mail_root", root).ok());
  auto taken = store.check_maildir(bob, root + "/example.test/zed/Maildir");
  REQUIRE_FALSE(taken.ok());
  CHECK(taken.error().code == ErrorCode::kInvalidArgument);
  CHECK(taken.error().message.find("is inside the mail_root " + root) != std::string::npos);
  CHECK(taken.error().message.find(root + "/example.test/bob/Maildir") != std::string::npos);
  auto whole = store.check_maildir(bob, root);
  REQUIRE_FALSE(whole.ok());
  CHECK(whole.error().message.find("is the mail_root") != std::string::npos);
  CHECK_FALSE(store.check_maildir(bob, tmp.path()).ok());  // contains it (and the data directory)
  CHECK(store.check_maildir(bob, st::default_maildir_under(root, bob)).ok());
  CHECK(store.check_maildir(bob, tmp.sub("elsewhere/Maildir")).ok());
}
