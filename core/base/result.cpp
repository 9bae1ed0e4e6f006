// Names of error codes, for logs and mailctl --json.
#include "core/base/result.h"

namespace mailroom {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid_argument";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kAlreadyExists: return "already_exists";
    case ErrorCode::kAuthFailed: return "auth_failed";
    case ErrorCode::kInUse: return "in_use";
    case ErrorCode::kTemporary: return "temporary";
    case ErrorCode::kPermanent: return "permanent";
    case ErrorCode::kIo: return "io";
    case ErrorCode::kDatabase: return "database";
    case ErrorCode::kInternal: return "internal";
    case ErrorCode::kUnavailable: return "unavailable";
  }
  return "internal";
}

}  // namespace mailroom
