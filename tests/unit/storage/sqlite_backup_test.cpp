// snapshot_database: a consistent copy through SQLite's online backup API while another
// connection keeps committing (the daemon's writes), finished in bounded time.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "storage/backup.h"
#include "storage/sqlite/sqlite_db.h"
#include "tests/unit/support/temp_dir.h"

namespace st = mailroom::storage;
using mailroom::testing::TempDir;

namespace {

std::unique_ptr<st::sqlite::SqliteConnection> open_db(const std::string& path) {
  auto conn = st::sqlite::SqliteConnection::open(path, /*create=*/true);
  REQUIRE(conn);
  return std::move(*conn);
}

int64_t count_rows(st::sqlite::SqliteConnection& db, const std::string& table) {
  auto stmt = db.prepare("SELECT count(*), coalesce(sum(n), 0) FROM " + table);
  REQUIRE(stmt);
  auto row = (*stmt)->step();
  REQUIRE(row);
  REQUIRE(*row);
  return (*stmt)->column_int(0);
}

}  // namespace

TEST_CASE("a snapshot taken while another connection keeps committing is one consistent state") {
  TempDir dir{"sqlite-backup"};
  const std::string db_path = (std::filesystem::path(dir.path()) / st::kDatabaseFileName).string();
  auto writer = open_db(db_path);
  // More pages than one backup step used to copy (1024): a commit between two steps restarted
  // the copy, and a daemon committing all the time kept it from ever finishing.
  REQUIRE(writer->exec("CREATE TABLE filler (b BLOB)"));
  REQUIRE(writer->exec("INSERT INTO filler VALUES (zeroblob(40 * 1024 * 1024))"));
  // Each commit adds one row and moves `total` by the same amount: a copy between two commits
  // has total == the number of rows.
  REQUIRE(writer->exec("CREATE TABLE ledger (n INTEGER)"));
  REQUIRE(writer->exec("CREATE TABLE total (n INTEGER)"));
  REQUIRE(writer->exec("INSERT INTO total VALUES (0)"));

  std::atomic<bool> stop{false};
  std::atomic<int64_t> commits{0};
  std::thread busy([&] {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);  // bounded
    while (!stop.load() && std::chrono::steady_clock::now() < until) {
      if (!writer->exec("BEGIN IMMEDIATE; INSERT INTO ledger VALUES (1); UPDATE total SET n = n + 1; COMMIT")) {
        (void)writer->exec("ROLLBACK");
      } else {
        commits.fetch_add(1);
      }
    }
  });
  while (commits.load() < 5) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  const std::string copy = (std::filesystem::path(dir.path()) / "copy.db").string();
  const int64_t committed_before = commits.load();
  const auto started = std::chrono::steady_clock::now();
  auto st = st::snapshot_database(dir.path(), copy);
  const auto took = std::chrono::steady_clock::now() - started;
  const int64_t committed_meanwhile = commits.load();
  stop.store(true);
  busy.join();
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message));
  MESSAGE("snapshot took " << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms, " << committed_meanwhile << " commits");
  CHECK(took < std::chrono::seconds(10));
  CHECK(committed_meanwhile > committed_before);  // the writer was not blocked by the copy

  auto copied = open_db(copy);
  const int64_t rows = count_rows(*copied, "ledger");
  auto total = copied->prepare("SELECT n FROM total");
  REQUIRE(total);
  auto row = (*total)->step();
  REQUIRE(row);
  REQUIRE(*row);
  CHECK((*total)->column_int(0) == rows);
  CHECK(rows >= 5);
  CHECK(std::filesystem::status(copy).permissions() ==
        (std::filesystem::perms::owner_read | std::filesystem::perms::owner_write));
}
