// SASLprep through libidn's stringprep_profile(..., "SASLprep", flags).
#include "auth/sasl/saslprep.h"

#include <stringprep.h>

#include <cstdlib>
#include <memory>

namespace mailroom::auth::sasl {

namespace {

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

std::string why(int rc) {
  switch (rc) {
    case STRINGPREP_CONTAINS_UNASSIGNED: return "contains a code point unassigned in Unicode 3.2";
    case STRINGPREP_CONTAINS_PROHIBITED: return "contains a prohibited character (a control, private-use or non-character code point)";
    case STRINGPREP_BIDI_BOTH_L_AND_RAL:
    case STRINGPREP_BIDI_LEADTRAIL_NOT_RAL:
    case STRINGPREP_BIDI_CONTAINS_PROHIBITED: return "breaks the bidirectional text rule (RFC 3454 section 6)";
    case STRINGPREP_ICONV_ERROR: return "is not valid UTF-8";
    case STRINGPREP_MALLOC_ERROR: return "could not be prepared (out of memory)";
    default: return std::string("could not be prepared: ") + stringprep_strerror(static_cast<Stringprep_rc>(rc));
  }
}

}  // namespace

Result<std::string> saslprep(std::string_view text, SaslprepUse use) {
  auto bad = [](const std::string& reason) { return make_error(ErrorCode::kInvalidArgument, "SASLprep: the string " + reason); };
  // libidn reads a C string: an embedded NUL would cut it short (U+0000 is prohibited anyway).
  if (text.find('\0') != std::string_view::npos) return bad(why(STRINGPREP_CONTAINS_PROHIBITED));
  const std::string input(text);
  const auto flags = use == SaslprepUse::kStoredString ? STRINGPREP_NO_UNASSIGNED : static_cast<Stringprep_profile_flags>(0);
  char* raw = nullptr;
  const int rc = stringprep_profile(input.c_str(), &raw, "SASLprep", flags);
  const std::unique_ptr<char, FreeDeleter> out(raw);
  if (rc != STRINGPREP_OK) return bad(why(rc));
  std::string prepared(out ? out.get() : "");
  if (prepared.empty()) return bad("is empty once prepared");
  return prepared;
}

}  // namespace mailroom::auth::sasl
