// POP3 reply line builders and the outcome -> RFC 3206 code mapping.
#include "modules/pop3/reply.h"

namespace mailroom::pop3 {

namespace {

std::string make_line(std::string_view status, std::string_view code, std::string_view text) {
  std::string line(status);
  if (!code.empty()) {
    line += ' ';
    line += code;
  }
  if (!text.empty()) line += ' ';
  const std::size_t room = kMaxReplyLine - 2;
  for (char c : text) {
    if (line.size() >= room) break;
    const auto u = static_cast<unsigned char>(c);
    line += (u < 0x20 || u == 0x7F) ? ' ' : c;
  }
  if (line.size() > room) line.resize(room);
  line += "\r\n";
  return line;
}

}  // namespace

std::string_view resp_code_text(RespCode code) {
  switch (code) {
    case RespCode::kNone: return "";
    case RespCode::kAuth: return "[AUTH]";
    case RespCode::kInUse: return "[IN-USE]";
    case RespCode::kSysTemp: return "[SYS/TEMP]";
    case RespCode::kSysPerm: return "[SYS/PERM]";
    case RespCode::kLoginDelay: return "[LOGIN-DELAY]";
  }
  return "";
}

RespCode resp_code_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kAuthFailed: return RespCode::kAuth;
    case ErrorCode::kInUse: return RespCode::kInUse;
    case ErrorCode::kTemporary:
    case ErrorCode::kIo:
    case ErrorCode::kDatabase:
    case ErrorCode::kInternal:
    case ErrorCode::kUnavailable: return RespCode::kSysTemp;
    case ErrorCode::kPermanent: return RespCode::kSysPerm;
    case ErrorCode::kInvalidArgument:
    case ErrorCode::kNotFound:
    case ErrorCode::kAlreadyExists: return RespCode::kNone;
  }
  return RespCode::kNone;
}

RespCode resp_code_for(LoginOutcome outcome) {
  switch (outcome) {
    case LoginOutcome::kOk: return RespCode::kNone;
    case LoginOutcome::kAuthFailed: return RespCode::kAuth;
    case LoginOutcome::kInUse: return RespCode::kInUse;
    case LoginOutcome::kTemporary: return RespCode::kSysTemp;
    case LoginOutcome::kLoginDelay: return RespCode::kLoginDelay;
  }
  return RespCode::kSysTemp;
}

std::string ok_line(std::string_view text) { return make_line("+OK", "", text); }

std::string err_line(std::string_view text, RespCode code) {
  return make_line("-ERR", resp_code_text(code), text);
}

}  // namespace mailroom::pop3
