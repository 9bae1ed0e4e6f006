// SecretBox: AES-256-GCM sealing of plaintext-equivalent secrets and the DATA/secrets.key file.
#include <doctest/doctest.h>

#include "tests/unit/support/temp_dir.h"
#include <stdlib.h>
#include <sys/stat.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/secrets/secret_box.h"

namespace fs = std::filesystem;
using mailroom::ErrorCode;
using mailroom::storage::secret_aad;
using mailroom::storage::SecretBox;

namespace {

using mailroom::testing::TempDir;

std::array<unsigned char, SecretBox::kKeyBytes> key_of(unsigned char fill) {
  std::array<unsigned char, SecretBox::kKeyBytes> k{};
  k.fill(fill);
  return k;
}

void write_file(const std::string& path, const std::string& bytes, mode_t mode) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << bytes;
  }
  REQUIRE(chmod(path.c_str(), mode) == 0);
}

mode_t mode_of(const std::string& path) {
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Flips one bit of the base64 text at `pos` while keeping it valid base64.
std::string flip_char(std::string s, size_t pos) {
  s[pos] = s[pos] == 'A' ? 'B' : 'A';
  return s;
}

}  // namespace

TEST_CASE("a sealed secret opens with the same key and context, and hides the plaintext") {
  auto box = SecretBox::from_key(key_of(7));
  const std::string aad = secret_aad(42, "plaintext");
  auto sealed = box.seal("correct horse battery staple", aad);
  REQUIRE(sealed.ok());
  CHECK(sealed->rfind("enc1:", 0) == 0);
  CHECK(SecretBox::is_sealed(*sealed));
  CHECK(sealed->find("correct horse") == std::string::npos);
  // 12 nonce + 28 plaintext + 16 tag = 56 bytes -> 76 base64 chars.
  CHECK(sealed->size() == 5 + 76);

  auto opened = box.open(*sealed, aad);
  REQUIRE(opened.ok());
  CHECK(*opened == "correct horse battery staple");

  // A fresh nonce each time: the same secret never seals to the same text.
  auto again = box.seal("correct horse battery staple", aad);
  REQUIRE(again.ok());
  CHECK(*again != *sealed);
  CHECK(box.open(*again, aad).value() == "correct horse battery staple");

  auto empty = box.seal("", aad);
  REQUIRE(empty.ok());
  CHECK(box.open(*empty, aad).value().empty());
}

TEST_CASE("a sealed secret does not open with another key, context or an altered byte") {
  auto box = SecretBox::from_key(key_of(1));
  auto other = SecretBox::from_key(key_of(2));
  const std::string aad = secret_aad(1, "cram-md5");
  auto sealed = box.seal("0123456789abcdef0123456789abcdef", aad).value();

  auto wrong_key = other.open(sealed, aad);
  REQUIRE_FALSE(wrong_key.ok());
  CHECK(wrong_key.error().code == ErrorCode::kPermanent);
  CHECK(wrong_key.error().message.find("does not authenticate") != std::string::npos);
  CHECK(wrong_key.error().message.find("0123456789") == std::string::npos);

  CHECK_FALSE(box.open(sealed, secret_aad(2, "cram-md5")).ok());   // another mailbox
  CHECK_FALSE(box.open(sealed, secret_aad(1, "plaintext")).ok());  // another kind

  // Every region: nonce, ciphertext and tag.
  for (size_t pos : {size_t{5}, size_t{30}, sealed.size() - 3}) {
    CAPTURE(pos);
    auto tampered = box.open(flip_char(sealed, pos), aad);
    REQUIRE_FALSE(tampered.ok());
    CHECK(tampered.error().code == ErrorCode::kPermanent);
  }

  auto truncated = box.open(sealed.substr(0, 5 + 36), aad);  // 27 bytes: less than nonce + tag
  REQUIRE_FALSE(truncated.ok());
  CHECK(truncated.error().code == ErrorCode::kInvalidArgument);
  CHECK(box.open("enc1:not base64!", aad).error().code == ErrorCode::kInvalidArgument);
  CHECK(box.open("enc1:" + sealed.substr(5) + " ", aad).error().code == ErrorCode::kInvalidArgument);
  CHECK(box.open("SCRAM-SHA-256$4096:abc$x:y", aad).error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("load_or_create makes a private 32-byte key once and load reads it back") {
  TempDir tmp;
  auto missing = SecretBox::load(tmp.sub("secrets.key"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "the secrets key " + tmp.sub("secrets.key") + " does not exist");

  auto created = SecretBox::load_or_create(tmp.sub("secrets.key"));
  REQUIRE_MESSAGE(created.ok(), created.error().message);
  CHECK(fs::file_size(tmp.sub("secrets.key")) == SecretBox::kKeyBytes);
  CHECK(mode_of(tmp.sub("secrets.key")) == 0600);
  auto sealed = created->seal("pw", "ctx").value();

  auto loaded = SecretBox::load(tmp.sub("secrets.key"));
  REQUIRE(loaded.ok());
  CHECK(loaded->open(sealed, "ctx").value() == "pw");
  auto reused = SecretBox::load_or_create(tmp.sub("secrets.key"));  // an existing key is never replaced
  REQUIRE(reused.ok());
  CHECK(reused->open(sealed, "ctx").value() == "pw");

  // Only the key is left in the directory (the temporary file is gone).
  int entries = 0;
  for (const auto& e : fs::directory_iterator(tmp.path())) {
    (void)e;
    ++entries;
  }
  CHECK(entries == 1);
}

TEST_CASE("a key file with the wrong size or open permissions is refused with a fix") {
  TempDir tmp;
  write_file(tmp.sub("secrets.key"), std::string(31, 'k'), 0600);
  for (bool create : {false, true}) {
    auto box = create ? SecretBox::load_or_create(tmp.sub("secrets.key")) : SecretBox::load(tmp.sub("secrets.key"));
    REQUIRE_FALSE(box.ok());
    CHECK(box.error().code == ErrorCode::kPermanent);
    CHECK(box.error().message.find("has 31 bytes, not 32") != std::string::npos);
    CHECK(box.error().message.find("restore it from your backup") != std::string::npos);
  }
  CHECK(fs::file_size(tmp.sub("secrets.key")) == 31);  // load_or_create did not overwrite it

  write_file(tmp.sub("secrets.key"), std::string(32, 'k'), 0640);
  auto group = SecretBox::load_or_create(tmp.sub("secrets.key"));
  REQUIRE_FALSE(group.ok());
  CHECK(group.error().code == ErrorCode::kPermanent);
  CHECK(group.error().message == "the secrets key " + tmp.sub("secrets.key") +
                                     " has mode 0640: group and others must have no access (run 'chmod 600 " +
                                     tmp.sub("secrets.key") + "')");
  REQUIRE(chmod(tmp.sub("secrets.key").c_str(), 0604) == 0);
  CHECK(SecretBox::load(tmp.sub("secrets.key")).error().message.find("mode 0604") != std::string::npos);
  REQUIRE(chmod(tmp.sub("secrets.key").c_str(), 0400) == 0);
  CHECK(SecretBox::load(tmp.sub("secrets.key")).ok());

  fs::remove(tmp.sub("secrets.key"));
  fs::create_directory(tmp.sub("secrets.key"));
  auto dir = SecretBox::load_or_create(tmp.sub("secrets.key"));
  REQUIRE_FALSE(dir.ok());
  CHECK(dir.error().message.find("not a regular file") != std::string::npos);
}

TEST_CASE("processes racing to create the key all end up with the same one") {
  for (int round = 0; round < 5; ++round) {
    TempDir tmp;
    constexpr int kRacers = 6;
    std::vector<std::optional<std::string>> sealed(kRacers);
    std::vector<std::string> errors(kRacers);
    std::vector<std::thread> threads;
    for (int i = 0; i < kRacers; ++i) {
      threads.emplace_back([&, i] {
        auto box = SecretBox::load_or_create(tmp.sub("secrets.key"));
        if (!box) {
          errors[static_cast<size_t>(i)] = box.error().message;
          return;
        }
        sealed[static_cast<size_t>(i)] = box->seal("racer " + std::to_string(i), "ctx").value();
      });
    }
    for (auto& t : threads) t.join();
    auto winner = SecretBox::load(tmp.sub("secrets.key"));
    REQUIRE(winner.ok());
    for (int i = 0; i < kRacers; ++i) {
      CAPTURE(i);
      REQUIRE_MESSAGE(sealed[static_cast<size_t>(i)].has_value(), errors[static_cast<size_t>(i)]);
      CHECK(winner->open(*sealed[static_cast<size_t>(i)], "ctx").value() == "racer " + std::to_string(i));
    }
    CHECK(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()) == 1);
  }
}
