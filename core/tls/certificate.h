// X.509 certificates as files: loading a certificate and its key (an encrypted key refused in one
// sentence), checking a pair, describing a certificate (SANs, dates, fingerprint), the expiry
// warning, and making a self-signed certificate in memory (the caller writes the files).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/base/time_text.h"
#include "core/tls/openssl_ptr.h"

namespace mailroom::tls {

// PEM files larger than this are refused unread (a certificate with its chain is a few KiB).
inline constexpr std::size_t kMaxPemFileBytes = 1024 * 1024;

// The first certificate of a PEM file (the leaf; a chain may follow).
Result<X509Ptr> load_certificate(const std::string& path);
// An unencrypted PEM private key. A passphrase-protected one is refused with one sentence that
// says how to remove the passphrase (no OpenSSL error stack).
Result<PkeyPtr> load_private_key(const std::string& path);

// Loads and checks a certificate + key pair: both parse, the key matches the certificate, the
// certificate is not expired; optional chain file parses. Returns a summary of the certificate.
Result<std::string> check_certificate(const std::string& cert_file, const std::string& key_file,
                                      const std::string& chain_file = "");

// "CN=mail.example.test, expires 2036-11-20" for logs and status.
std::string summarize(X509* cert);

// Unix seconds of a certificate time (notBefore, notAfter).
int64_t certificate_time(const ASN1_TIME* t);

// What `mailctl cert show` reports about a certificate file.
struct CertificateInfo {
  std::string subject;  // one line, "CN = mail.example.test"
  std::string issuer;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries, in order
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries, as text
  int64_t not_before = 0;                 // unix seconds
  int64_t not_after = 0;
  std::string serial;              // upper-case hex
  std::string sha256_fingerprint;  // "AA:BB:..." of the leaf's DER form
  std::string key_type;            // RSA, EC, ED25519, ...
  int key_bits = 0;
  int chain_length = 0;  // certificates in the file, the leaf included
  bool self_signed = false;
};
Result<CertificateInfo> inspect_certificate(const std::string& cert_file);
// "AA:BB:..." SHA-256 of the certificate's DER form.
std::string sha256_fingerprint(X509* cert);

// Whole days from `now` until `not_after`, rounded down (negative once expired).
int64_t days_left(int64_t not_after, int64_t now);
// The warning for a certificate expiring within `warn_days` (0: never warn), else nullopt:
// "certificate expires in 5 days (2026-12-10T17:56:00Z)" / "certificate expired on ...".
std::optional<std::string> expiry_warning(int64_t not_after, int64_t now, int64_t warn_days);

// A self-signed server certificate: CN = common_name; subjectAltName = common_name, dns_names
// (DNS) and ip_addresses (IP), duplicates dropped; RSA 2048, SHA-256, valid for `days` (a
// negative number makes an already expired one, for tests).
struct SelfSignedRequest {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  int days = 825;
};
struct PemPair {
  std::string cert;
  std::string key;
};
// Letters, digits, '-' and '.' (a leading "*." for a wildcard), at most 253 characters.
bool is_dns_name(std::string_view name);
// Refuses a name that is not a DNS name ("*." first allowed) or an address that is not IPv4/IPv6.
Result<PemPair> make_self_signed(const SelfSignedRequest& request);

}  // namespace mailroom::tls
