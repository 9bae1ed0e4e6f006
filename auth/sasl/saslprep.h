// SASLprep (RFC 4013): the StringPrep (RFC 3454) profile SCRAM applies to user names and
// passwords (RFC 5802 section 5.1), through GNU libidn's stringprep. Non-ASCII spaces become
// SPACE, "commonly mapped to nothing" characters (SOFT HYPHEN, ZERO WIDTH SPACE, ...) are
// dropped, the result is NFKC-normalised (U+2168 ROMAN NUMERAL NINE -> "IX"); control
// characters, private use, non-characters and the like are refused, and so is a string mixing
// left-to-right with right-to-left text (RFC 3454 section 6). Printable ASCII comes out unchanged.
#pragma once

#include <string>
#include <string_view>

#include "core/base/result.h"

namespace mailroom::auth::sasl {

// RFC 3454 section 7: a string that is kept (a password SCRAM keys are derived from) may not
// contain code points unassigned in Unicode 3.2; a query (the user name a client sends) may.
enum class SaslprepUse { kStoredString, kQuery };

// The prepared UTF-8 string, or kInvalidArgument naming the rule broken (never echoing the
// input): not UTF-8, a NUL, a prohibited character, an unassigned code point (kStoredString
// only), a bidirectional-text violation, or an empty result.
Result<std::string> saslprep(std::string_view text, SaslprepUse use);

}  // namespace mailroom::auth::sasl
