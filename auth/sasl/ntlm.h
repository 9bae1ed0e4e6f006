// NTLM authentication as Outlook/Windows POP3 clients speak it ([MS-POP3] over [MS-NLMP]):
// AUTH NTLM, "+ ", NEGOTIATE, CHALLENGE, AUTHENTICATE. NTLMv2 responses; NTLMv1 only with
// allow_ntlmv1. Authentication only: no signing/sealing, and the MIC is not checked.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/sasl/auth_mechanism.h"

namespace mailroom::auth::sasl {

struct NtlmOptions {
  std::string nb_domain = "MAILROOM";     // TargetName and MsvAvNbDomainName
  std::string nb_computer = "MAILROOM";   // MsvAvNbComputerName
  std::string dns_computer = "localhost"; // MsvAvDnsComputerName
  std::string dns_domain;                 // MsvAvDnsDomainName, omitted when empty
  std::string server_challenge;           // 8 bytes for tests; empty means random
  std::optional<uint64_t> timestamp;      // MsvAvTimestamp (FILETIME); default: now
  // NTLMv1 (and NTLMv1 with extended session security) is crackable from a capture; refuse it
  // unless an administrator asked for it for old clients.
  bool allow_ntlmv1 = false;
};

// Steps: AUTH NTLM -> Challenge "" -> NEGOTIATE -> Challenge CHALLENGE -> AUTHENTICATE ->
// NeedSecret{authcid = user name, realm = domain as sent, accepted = kNtHash, kPlaintextPassword}
// -> Success or Failure. A NEGOTIATE given as the AUTH initial response is accepted too.
std::unique_ptr<AuthMechanism> make_ntlm(NtlmOptions options);

// MD4(UTF-16LE(password)) as 32 lowercase hex digits, the stored kNtHash form. A plaintext
// equivalent for NTLM: store it only where NTLM is enabled. Invalid UTF-8 is hashed as Latin-1.
std::string ntlm_nt_hash(std::string_view password);

// NTOWFv2 (MS-NLMP 3.3.2): HMAC-MD5(nt_hash, UTF-16LE(Uppercase(user) + domain)). `nt_hash` is
// 16 raw bytes; user and domain UTF-8. Exposed for the spec's test vectors.
std::string ntlm_ntowfv2(std::string_view nt_hash, std::string_view user, std::string_view domain);

}  // namespace mailroom::auth::sasl
