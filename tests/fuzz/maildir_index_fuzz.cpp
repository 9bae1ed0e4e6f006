// Fuzzes the Maildir index parser (storage/maildir/maildir_index.h). Byte 0 bit 0 set: the
// driver appends the right checksum line to the rest, so the fuzzer explores the header and
// entry grammar behind the checksum (a file anyone who can write the maildir can forge); clear:
// the rest is taken as the whole file.
// Invariants: a verified index yields at most its recorded count of entries, each with a folder
// letter n/c, a name with no '/' that is no dot file, and a valid UIDL or none; a decoded index
// encodes to a text that decodes to the same index; a damaged checksum is never accepted.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "storage/maildir/maildir_index.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace mailroom::storage::maildir;
  if (size < 1) return 0;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] & 1) {
    char sum[17];
    std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(index_checksum(text)));
    text += "checksum " + std::string(sum) + "\n";
  }

  auto view = IndexView::parse(text);
  if (!view) return 0;
  std::size_t seen = 0;
  const bool whole = view->for_each([&](const IndexEntry& e) {
    ++seen;
    FUZZ_CHECK_DATA(e.sub == 'n' || e.sub == 'c', text);
    FUZZ_CHECK_DATA(!e.name.empty() && e.name.front() != '.' && e.name.find('/') == std::string_view::npos, text);
    for (unsigned char c : e.uid) FUZZ_CHECK_DATA(c >= 0x21 && c <= 0x7e, text);
    FUZZ_CHECK_DATA(e.uid.size() <= 70, text);
  });
  FUZZ_CHECK_DATA(seen <= view->count(), text);
  if (!whole) return 0;

  auto decoded = decode_index(text);
  FUZZ_CHECK_DATA(decoded.has_value() && decoded->entries.size() == view->count(), text);
  const std::string encoded = encode_index(*decoded);
  auto again = decode_index(encoded);
  FUZZ_CHECK_DATA(again.has_value() && again->new_dir == decoded->new_dir && again->cur_dir == decoded->cur_dir &&
                      again->entries.size() == decoded->entries.size(),
                  encoded);
  for (std::size_t i = 0; i < again->entries.size(); ++i) {
    const IndexEntry& a = again->entries[i];
    const IndexEntry& b = decoded->entries[i];
    FUZZ_CHECK_DATA(a.sub == b.sub && a.size == b.size && a.uid == b.uid && a.name == b.name, encoded);
  }

  // Any one changed byte of the checksummed text is refused.
  std::string damaged = text;
  damaged[data[0] % damaged.size()] ^= 0x01;
  FUZZ_CHECK_DATA(!IndexView::parse(damaged) || damaged == text, damaged);
  return 0;
}
