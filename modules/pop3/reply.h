// POP3 reply lines: "+OK ..." / "-ERR [CODE] ...", bounded to 512 octets, and the one mapping
// from an outcome (error code, login result) to its RFC 3206 response code.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/base/result.h"
#include "modules/pop3/session.h"

namespace mailroom::pop3 {

// RFC 2449: a response line, CRLF included, is at most 512 octets.
constexpr std::size_t kMaxReplyLine = 512;

// RFC 3206 (and RFC 2449 [IN-USE]) extended response codes.
enum class RespCode { kNone, kAuth, kInUse, kSysTemp, kSysPerm, kLoginDelay };

// "[AUTH]", "[IN-USE]", "[SYS/TEMP]", "[SYS/PERM]", "[LOGIN-DELAY]" or "" for kNone.
std::string_view resp_code_text(RespCode code);

RespCode resp_code_for(ErrorCode code);
RespCode resp_code_for(LoginOutcome outcome);

// "+OK text\r\n" ("+OK\r\n" for empty text). Control bytes in text become spaces and the line
// is truncated to kMaxReplyLine, so no caller can break framing.
std::string ok_line(std::string_view text);
// "-ERR [CODE] text\r\n", same guarantees.
std::string err_line(std::string_view text, RespCode code = RespCode::kNone);

}  // namespace mailroom::pop3
