// The EXPIRE retrieval record in a Maildir (.mailroom-retrieved): format, damage, durability.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "storage/maildir/retrieval_record.h"

using namespace mailroom::storage;
using namespace mailroom::storage::maildir;

TEST_CASE("retrieval record: round trip, damaged lines skipped") {
  const Retrievals r{{"1700000000.M1P2.host,S=10,W=12", 1700000100}, {"x", 0}};
  CHECK(parse_retrievals(format_retrievals(r)) == r);
  CHECK(parse_retrievals("12 ok\nnot-a-time uid\n-5 neg\n7\n 8 lead\n9 has space\n10 fine") ==
        Retrievals{{"ok", 12}, {"fine", 10}});
}

TEST_CASE("retrieval record: missing is empty, written whole, removed when empty, symlink refused") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("mailroom-retrieved-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto none = read_retrievals(dir.string());
  REQUIRE(none.ok());
  CHECK(none->empty());
  REQUIRE(write_retrievals(dir.string(), {{"u1", 5}}).ok());
  auto back = read_retrievals(dir.string());
  REQUIRE(back.ok());
  CHECK(*back == Retrievals{{"u1", 5}});
  REQUIRE(write_retrievals(dir.string(), {}).ok());
  CHECK_FALSE(fs::exists(dir / kRetrievalFile));
  fs::create_symlink("/etc/passwd", dir / kRetrievalFile);
  CHECK_FALSE(read_retrievals(dir.string()).ok());
  fs::remove_all(dir);
}
