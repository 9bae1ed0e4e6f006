// A fresh directory (under /tmp unless told otherwise) for one test, removed with everything in it afterwards.
#pragma once

#include <doctest/doctest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace mailroom::testing {

class TempDir {
 public:
  // `base`: another file system when a test needs one (e.g. /dev/shm for cross-device copies).
  explicit TempDir(const std::string& name = "test", const std::string& base = "/tmp") {
    std::string tmpl = base + "/mailroom-" + name + "-XXXXXX";
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace mailroom::testing
