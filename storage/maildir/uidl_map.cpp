// The UIDL map file: its format, read and durable replacement.
#include "storage/maildir/uidl_map.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <unordered_set>
#include <vector>

#include "storage/maildir/fs_util.h"
#include "storage/maildir/maildir_index.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/maildir_store.h"
#include "storage/maildir/message_files.h"

namespace mailroom::storage::maildir {

namespace {

constexpr std::string_view kMagic = "mailroom-uidls 1";
constexpr std::size_t kMaxLine = 4096;

Error damaged(const std::string& why) { return make_error(ErrorCode::kIo, "damaged UIDL map: " + why); }

bool parse_number(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

bool parse_tagged(std::string_view field, char tag, uint64_t& out) {
  return !field.empty() && field[0] == tag && parse_number(field.substr(1), out);
}

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// "mailroom-uidls 1 V<uidvalidity> N<next> T<0|1> C<count>" into MAP's header fields and COUNT.
bool parse_header(std::string_view header, UidlMap& map, uint64_t& count) {
  if (!header.starts_with(kMagic)) return false;
  std::string_view fields = header.substr(kMagic.size());
  std::string_view parts[4];
  for (auto& p : parts) {
    if (fields.empty() || fields[0] != ' ') return false;
    fields.remove_prefix(1);
    auto sp = fields.find(' ');
    p = fields.substr(0, sp);
    fields = sp == std::string_view::npos ? std::string_view() : fields.substr(sp);
  }
  uint64_t t = 0;
  if (!fields.empty() || !parse_tagged(parts[0], 'V', map.uidvalidity) || !parse_tagged(parts[1], 'N', map.next_uid) ||
      !parse_tagged(parts[2], 'T', t) || t > 1 || !parse_tagged(parts[3], 'C', count)) {
    return false;
  }
  map.template_started = t == 1;
  return true;
}

// "<base> <uidl>": a message file's base name and a valid UIDL.
bool parse_entry(std::string_view line, std::string_view& base, std::string_view& uidl) {
  auto sp = line.find(' ');
  if (line.size() > kMaxLine || sp == std::string_view::npos) return false;
  base = line.substr(0, sp);
  uidl = line.substr(sp + 1);
  return message_name_ok(base) && valid_uidl(uidl);
}

}  // namespace

std::string encode_uidl_map(const UidlMap& map) {
  std::vector<const std::pair<const std::string, std::string>*> entries;
  entries.reserve(map.by_base.size());
  for (const auto& e : map.by_base) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) { return a->first < b->first; });
  std::string out(kMagic);
  out += " V" + std::to_string(map.uidvalidity) + " N" + std::to_string(map.next_uid) + " T" +
         (map.template_started ? "1" : "0") + " C" + std::to_string(entries.size()) + "\n";
  for (auto* e : entries) out.append(e->first).append(" ").append(e->second).append("\n");
  out += "end " + hex64(index_checksum(out)) + "\n";
  return out;
}

Result<UidlMap> decode_uidl_map(std::string_view text) {
  if (text.empty() || text.back() != '\n') return damaged("it does not end in a complete line");
  auto last = text.rfind('\n', text.size() - 2);
  if (last == std::string_view::npos) return damaged("it has no end line");
  std::string_view body = text.substr(0, last + 1);
  std::string_view end_line = text.substr(last + 1, text.size() - last - 2);
  if (end_line != "end " + hex64(index_checksum(body))) return damaged("the checksum does not match");

  UidlMap map;
  auto nl = body.find('\n');
  std::string_view header = body.substr(0, nl);
  body.remove_prefix(nl + 1);
  if (!header.starts_with(kMagic)) return damaged("unknown header");
  uint64_t count = 0;
  if (!parse_header(header, map, count)) return damaged("malformed header");
  map.by_base.reserve(static_cast<std::size_t>(std::min<uint64_t>(count, 1u << 20)));
  while (!body.empty()) {
    nl = body.find('\n');
    std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    std::string_view base;
    std::string_view uidl;
    if (!parse_entry(line, base, uidl)) return damaged("malformed entry");
    if (!map.by_base.emplace(base, uidl).second) return damaged("a file name listed twice");
  }
  if (map.by_base.size() != count) return damaged("the number of entries is not the recorded one");
  return map;
}

UidlMapSalvage salvage_uidl_map(std::string_view text) {
  UidlMapSalvage out;
  std::unordered_set<std::string_view> uidls;
  bool first = true;
  while (!text.empty()) {
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    const bool complete = nl != std::string_view::npos;
    text = complete ? text.substr(nl + 1) : std::string_view();
    if (first) {
      first = false;
      uint64_t count = 0;
      UidlMap header;
      if (complete && parse_header(line, header, count)) {
        out.map.uidvalidity = header.uidvalidity;
        out.map.next_uid = header.next_uid;
        out.map.template_started = header.template_started;
        out.header_kept = true;
        continue;
      }
    }
    if (complete && line.starts_with("end ")) continue;
    std::string_view base;
    std::string_view uidl;
    if (!complete || !parse_entry(line, base, uidl) || out.map.by_base.count(std::string(base)) != 0 ||
        !uidls.insert(uidl).second) {
      ++out.dropped;
      continue;
    }
    out.map.by_base.emplace(base, uidl);
  }
  return out;
}

Result<std::optional<UidlMap>> read_uidl_map(const std::string& dir) {
  const std::string path = join(dir, kUidlMapFile);
  auto text = read_regular_file(path, kMaxUidlMapSize);
  if (!text) {
    if (text.error().code == ErrorCode::kNotFound) return std::optional<UidlMap>();
    return text.error();
  }
  auto map = decode_uidl_map(*text);
  if (!map) return Error{map.error().code, path + ": " + map.error().message};
  return std::optional<UidlMap>(std::move(map).value());
}

Status write_uidl_map(const std::string& dir, const UidlMap& map) {
  return replace_file_durably(dir, kUidlMapFile, kUidlMapTmpFile, encode_uidl_map(map));
}

}  // namespace mailroom::storage::maildir
