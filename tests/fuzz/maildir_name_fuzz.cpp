// Fuzzes the Maildir name parser (storage/maildir/maildir_name.h): the input holds up to three
// file names separated by '/' (a byte no name can hold).
// Invariants: the stem is the name up to its first ':', the base a prefix of the stem; a UIDL
// is always 1-70 printable non-space ASCII; a recorded writer is what the name says; a
// sanitised host name holds no '/' or ':'; delivery order is a strict total order (irreflexive,
// asymmetric, total on distinct names, transitive).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/maildir/maildir_name.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using namespace mailroom::storage::maildir;

void check_one(std::string_view name) {
  const std::string_view stem = name_stem(name);
  FUZZ_CHECK_DATA(name.starts_with(stem) && stem.find(':') == std::string_view::npos, name);
  FUZZ_CHECK_DATA(stem.size() == name.size() || name[stem.size()] == ':', name);
  const std::string_view base = name_base(name);
  FUZZ_CHECK_DATA(stem.starts_with(base), name);
  const std::string uid = uid_from_name(name);
  FUZZ_CHECK_DATA(!uid.empty() && uid.size() <= 70, name);
  for (unsigned char c : uid) FUZZ_CHECK_DATA(c >= 0x21 && c <= 0x7e, name);
  FUZZ_CHECK_DATA(uid == uid_from_name(name), name);
  if (auto writer = name_writer(name)) {
    FUZZ_CHECK_DATA(writer->pid >= 0, name);
    FUZZ_CHECK_DATA(name.find(writer->host) != std::string_view::npos, name);
  }
  (void)wire_size_from_name(name);
  (void)leading_timestamp(name);
  const std::string host = sanitize_hostname(name);
  FUZZ_CHECK_DATA(host.find_first_of("/:") == std::string::npos, name);
  FUZZ_CHECK_DATA(!delivery_order_less(name, name), name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> names;
  while (names.size() < 3) {
    const std::size_t slash = rest.find('/');
    names.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  for (std::string_view n : names) check_one(n);
  for (std::string_view a : names) {
    for (std::string_view b : names) {
      const bool ab = delivery_order_less(a, b);
      const bool ba = delivery_order_less(b, a);
      FUZZ_CHECK_DATA(!(ab && ba), std::string(a) + "/" + std::string(b));
      if (a != b) FUZZ_CHECK_DATA(ab || ba, std::string(a) + "/" + std::string(b));
      for (std::string_view c : names) {
        if (ab && delivery_order_less(b, c)) {
          FUZZ_CHECK_DATA(delivery_order_less(a, c), std::string(a) + "/" + std::string(b) + "/" + std::string(c));
        }
      }
    }
  }
  return 0;
}
