// Test certificates: a self-signed pair made in memory (tls::make_self_signed) and written to two
// files, the key 0600, for the TLS and connection tests.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/base/result.h"
#include "core/tls/certificate.h"

namespace mailroom::test {

inline Status write_test_file(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0) return make_error(ErrorCode::kIo, "cannot create " + path);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok ? Status{} : make_error(ErrorCode::kIo, "cannot write " + path);
}

// CN and DNS name `hostname`; `days` < 0 makes an expired certificate.
inline Status write_self_signed(const std::string& cert_file, const std::string& key_file, const std::string& hostname,
                                int days, std::vector<std::string> ips = {}) {
  auto pair = tls::make_self_signed(tls::SelfSignedRequest{hostname, {}, std::move(ips), days});
  if (!pair) return pair.error();
  if (Status s = write_test_file(key_file, pair->key, 0600); !s) return s;
  return write_test_file(cert_file, pair->cert, 0644);
}

}  // namespace mailroom::test
