// Maildir index file format: encode, verify and decode (pure; the store does the file I/O).
#include "storage/maildir/maildir_index.h"

#include <charconv>
#include <cstring>

#include "storage/maildir/maildir_name.h"

namespace mailroom::storage::maildir {

namespace {

// Bump when the format or the uid/size/order rules change: an index written under other rules is
// then ignored and rebuilt, never reinterpreted.
constexpr std::string_view kHeader = "mailroom-maildir-index 1\n";
constexpr std::string_view kChecksumTag = "checksum ";

int64_t to_ns(int64_t sec, int64_t nsec) { return sec * 1'000'000'000 + nsec; }

void append_number(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_signed(std::string& out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_stamp(std::string& out, std::string_view label, const DirStamp& s) {
  out += label;
  for (uint64_t v : {s.dev, s.ino}) {
    out += ' ';
    append_number(out, v);
  }
  for (int64_t v : {s.mtime_sec, s.mtime_nsec, s.ctime_sec, s.ctime_nsec}) {
    out += ' ';
    append_signed(out, v);
  }
  out += '\n';
}

void append_hex(std::string& out, uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out += kHex[(v >> shift) & 0xF];
}

uint64_t rotl(uint64_t v, int r) { return (v << r) | (v >> (64 - r)); }

uint64_t mix_final(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

// Reads the next line (without its LF) from `rest`; false at the end or on a line without LF.
bool next_line(std::string_view& rest, std::string_view& line) {
  auto nl = rest.find('\n');
  if (nl == std::string_view::npos) return false;
  line = rest.substr(0, nl);
  rest.remove_prefix(nl + 1);
  return true;
}

// Cuts the next space-separated field off `line`.
std::string_view next_field(std::string_view& line) {
  auto sp = line.find(' ');
  std::string_view field = line.substr(0, sp);
  line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
  return field;
}

template <class T>
bool parse_number(std::string_view text, T& out) {
  if (text.empty()) return false;
  auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

bool parse_stamp(std::string_view line, std::string_view label, DirStamp& s) {
  if (next_field(line) != label) return false;
  return parse_number(next_field(line), s.dev) && parse_number(next_field(line), s.ino) &&
         parse_number(next_field(line), s.mtime_sec) && parse_number(next_field(line), s.mtime_nsec) &&
         parse_number(next_field(line), s.ctime_sec) && parse_number(next_field(line), s.ctime_nsec) &&
         line.empty();
}

bool valid_name(std::string_view name) {
  return !name.empty() && name[0] != '.' && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

}  // namespace

DirStamp stamp_from_stat(const struct stat& st) {
  DirStamp s;
  s.dev = static_cast<uint64_t>(st.st_dev);
  s.ino = static_cast<uint64_t>(st.st_ino);
  s.mtime_sec = static_cast<int64_t>(st.st_mtim.tv_sec);
  s.mtime_nsec = static_cast<int64_t>(st.st_mtim.tv_nsec);
  s.ctime_sec = static_cast<int64_t>(st.st_ctim.tv_sec);
  s.ctime_nsec = static_cast<int64_t>(st.st_ctim.tv_nsec);
  return s;
}

bool stamp_settled(const DirStamp& stamp, const timespec& before, std::chrono::nanoseconds settle) {
  int64_t limit = to_ns(before.tv_sec, before.tv_nsec) - settle.count();
  return to_ns(stamp.mtime_sec, stamp.mtime_nsec) < limit && to_ns(stamp.ctime_sec, stamp.ctime_nsec) < limit;
}

uint64_t index_checksum(std::string_view data) {
  // Eight bytes per step (a byte-wise hash costs ~1 ms on a 5,000-message index).
  constexpr uint64_t kMul1 = 0x9E3779B185EBCA87ULL;
  constexpr uint64_t kMul2 = 0xC2B2AE3D27D4EB4FULL;
  uint64_t h = 0x27D4EB2F165667C5ULL ^ (static_cast<uint64_t>(data.size()) * kMul1);
  const char* p = data.data();
  std::size_t n = data.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h ^= rotl(w * kMul2, 31) * kMul1;
    h = rotl(h, 27) * kMul1 + 0x85EBCA77C2B2AE63ULL;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h ^= rotl((tail ^ n) * kMul2, 31) * kMul1;
  return mix_final(h);
}

std::string encode_index(const IndexContents& index) {
  std::string out;
  std::size_t estimate = 256;
  for (const auto& e : index.entries) estimate += e.name.size() + e.uid.size() + 26;
  out.reserve(estimate);
  out += kHeader;
  append_stamp(out, "new", index.new_dir);
  append_stamp(out, "cur", index.cur_dir);
  out += "count ";
  append_number(out, index.entries.size());
  out += '\n';
  // "<n|c> <wire size> <uid or -> <name>": the name goes last, as it may hold spaces.
  for (const auto& e : index.entries) {
    out += e.sub;
    out += ' ';
    append_number(out, e.size);
    out += ' ';
    if (e.uid.empty()) {
      out += '-';
    } else {
      out += e.uid;
    }
    out += ' ';
    out += e.name;
    out += '\n';
  }
  uint64_t sum = index_checksum(out);
  out += kChecksumTag;
  append_hex(out, sum);
  out += '\n';
  return out;
}

std::optional<IndexView> IndexView::parse(std::string_view text) {
  // The checksum line is last; everything before it is what it covers.
  if (text.size() < kHeader.size() + kChecksumTag.size() + 17 || text.back() != '\n') return std::nullopt;
  std::string_view body = text.substr(0, text.size() - 1);
  auto last_nl = body.rfind('\n');
  if (last_nl == std::string_view::npos) return std::nullopt;
  std::string_view sum_line = body.substr(last_nl + 1);
  body = text.substr(0, last_nl + 1);
  if (sum_line.substr(0, kChecksumTag.size()) != kChecksumTag) return std::nullopt;
  std::string_view hex = sum_line.substr(kChecksumTag.size());
  uint64_t recorded = 0;
  if (hex.size() != 16) return std::nullopt;
  auto r = std::from_chars(hex.data(), hex.data() + hex.size(), recorded, 16);
  if (r.ec != std::errc() || r.ptr != hex.data() + hex.size()) return std::nullopt;
  if (recorded != index_checksum(body)) return std::nullopt;

  if (body.substr(0, kHeader.size()) != kHeader) return std::nullopt;
  std::string_view rest = body.substr(kHeader.size());
  IndexView view;
  std::string_view line;
  if (!next_line(rest, line) || !parse_stamp(line, "new", view.new_dir_)) return std::nullopt;
  if (!next_line(rest, line) || !parse_stamp(line, "cur", view.cur_dir_)) return std::nullopt;
  if (!next_line(rest, line) || next_field(line) != "count") return std::nullopt;
  if (!parse_number(line, view.count_)) return std::nullopt;
  // Every entry line takes at least 8 bytes: a larger count is damage (and must not make a
  // caller reserve gigabytes).
  if (view.count_ > rest.size() / 8) return std::nullopt;
  view.entries_ = rest;
  return view;
}

bool IndexView::parse_entry_line(std::string_view line, IndexEntry& e) {
  std::string_view sub = next_field(line);
  if (sub != "n" && sub != "c") return false;
  e.sub = sub[0];
  if (!parse_number(next_field(line), e.size)) return false;
  std::string_view uid = next_field(line);
  if (uid == "-") {
    // The uid is the name's base: it must be one a scan would have used as is.
    if (!valid_uidl(name_base(line))) return false;
    e.uid = {};
  } else {
    if (!valid_uidl(uid)) return false;
    e.uid = uid;
  }
  if (!valid_name(line)) return false;
  e.name = line;
  return true;
}

std::optional<IndexContents> decode_index(std::string_view text) {
  auto view = IndexView::parse(text);
  if (!view) return std::nullopt;
  IndexContents index;
  index.new_dir = view->new_dir();
  index.cur_dir = view->cur_dir();
  index.entries.reserve(view->count());
  if (!view->for_each([&](const IndexEntry& e) { index.entries.push_back(e); })) return std::nullopt;
  return index;
}

}  // namespace mailroom::storage::maildir
