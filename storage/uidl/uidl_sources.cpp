// Readers of other servers' UIDL lists (dovecot-uidlist, courierpop3dsizelist, a plain list).
#include "storage/uidl/uidl_sources.h"

#include <charconv>
#include <cstdio>

#include "storage/maildir/maildir_name.h"

namespace mailroom::storage::uidl {

namespace {

// The next line of `rest` (without its LF or CRLF); false at the end.
bool next_line(std::string_view& rest, std::string_view& line) {
  if (rest.empty()) return false;
  auto nl = rest.find('\n');
  line = rest.substr(0, nl);
  rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return true;
}

// The next space-separated field of `line`, removed from it.
std::string_view next_field(std::string_view& line) {
  auto start = line.find_first_not_of(' ');
  if (start == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(start);
  auto end = line.find(' ');
  std::string_view field = line.substr(0, end);
  line = end == std::string_view::npos ? std::string_view() : line.substr(end);
  return field;
}

bool parse_number(std::string_view text, uint64_t& out) {
  if (text.empty()) return false;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && p == text.data() + text.size();
}

Error source_error(const char* what, const std::string& why) {
  return make_error(ErrorCode::kInvalidArgument, std::string(what) + ": " + why);
}

std::string base_of(std::string_view file_name) { return std::string(maildir::name_base(file_name)); }

}  // namespace

Result<UidlSource> parse_dovecot_uidlist(std::string_view text, const UidlTemplate& format) {
  UidlSource out;
  std::string_view rest = text;
  std::string_view header;
  if (!next_line(rest, header)) return source_error(kDovecotUidlistFile, "the file is empty");
  std::string_view version = next_field(header);
  uint64_t uidvalidity = 0;
  uint64_t next = 0;
  if (version == "1") {
    if (!parse_number(next_field(header), uidvalidity) || !parse_number(next_field(header), next)) {
      return source_error(kDovecotUidlistFile, "a version 1 header needs '1 <uidvalidity> <next uid>'");
    }
  } else if (version == "3") {
    for (std::string_view f = next_field(header); !f.empty(); f = next_field(header)) {
      if (f[0] == 'V' && !parse_number(f.substr(1), uidvalidity)) return source_error(kDovecotUidlistFile, "bad V field");
      if (f[0] == 'N' && !parse_number(f.substr(1), next)) return source_error(kDovecotUidlistFile, "bad N field");
    }
    if (uidvalidity == 0) return source_error(kDovecotUidlistFile, "the header has no V<uidvalidity>");
  } else {
    return source_error(kDovecotUidlistFile, "version '" + std::string(version) + "' is not supported (1 and 3 are)");
  }
  out.uidvalidity = uidvalidity;
  if (next > 0) out.next_uid = next;

  std::string_view line;
  while (next_line(rest, line)) {
    if (line.empty()) continue;
    std::string_view fields = line;
    uint64_t uid = 0;
    if (!parse_number(next_field(fields), uid) || uid == 0) {
      ++out.malformed_lines;
      continue;
    }
    std::string_view name;
    std::string explicit_uidl;
    if (version == "1") {
      auto start = fields.find_first_not_of(' ');
      if (start != std::string_view::npos) name = fields.substr(start);
    } else {
      // Extensions up to " :", then the file name (the rest of the line).
      auto colon = fields.find(" :");
      if (colon == std::string_view::npos) {
        ++out.malformed_lines;
        continue;
      }
      name = fields.substr(colon + 2);
      std::string_view ext = fields.substr(0, colon);
      for (std::string_view f = next_field(ext); !f.empty(); f = next_field(ext)) {
        if (f[0] == 'P') explicit_uidl = std::string(f.substr(1));
      }
    }
    if (name.empty()) {
      ++out.malformed_lines;
      continue;
    }
    SourceEntry e;
    e.file_base = base_of(name);
    e.uidl = !explicit_uidl.empty() ? explicit_uidl
                                    : format.render(UidlVars{uid, uidvalidity, e.file_base});
    out.entries.push_back(std::move(e));
  }
  return out;
}

std::string courier_escaped_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E || c == '\'' || c == '"' || c == '+') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "+%02X", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

Result<UidlSource> parse_courier_sizelist(std::string_view text) {
  UidlSource out;
  std::string_view rest = text;
  std::string_view first = rest;
  std::string_view line;
  if (!next_line(first, line)) return out;  // an empty list: nothing to import
  if (!line.empty() && line[0] == '/') {
    rest = first;
    std::string_view h = line.substr(1);
    std::string_view version = next_field(h);
    uint64_t n = 0;
    uint64_t v = 0;
    if (version == "2" || version == "3") {
      if (!parse_number(next_field(h), n) || !parse_number(next_field(h), v)) {
        return source_error(kCourierSizelistFile, "a /" + std::string(version) + " header needs '<next uid> <uidvalidity>'");
      }
      out.next_uid = n;
      out.uidvalidity = v;
    } else if (version == "1") {
      if (!parse_number(next_field(h), n)) return source_error(kCourierSizelistFile, "a /1 header needs '<next uid>'");
      out.next_uid = n;
    } else {
      return source_error(kCourierSizelistFile, "header '" + std::string(line) + "' is not supported (/1, /2, /3 are)");
    }
  }
  while (next_line(rest, line)) {
    if (line.empty()) continue;
    std::string_view fields = line;
    std::string_view name = next_field(fields);
    uint64_t size = 0;
    if (name.empty() || !parse_number(next_field(fields), size)) {
      ++out.malformed_lines;
      continue;
    }
    std::string_view ids = next_field(fields);
    if (!next_field(fields).empty()) {
      ++out.malformed_lines;
      continue;
    }
    uint64_t uid = 0;
    uint64_t uidv = 0;
    bool ok = true;
    if (!ids.empty()) {
      std::string_view uid_text = ids.substr(0, ids.find(':'));
      ok = parse_number(uid_text, uid);
      if (ok && uid_text.size() < ids.size()) {
        std::string_view more = ids.substr(uid_text.size() + 1);
        ok = parse_number(more.substr(0, more.find(':')), uidv);  // v3 adds ":<n>"
      }
    }
    if (!ok) {
      ++out.malformed_lines;
      continue;
    }
    std::string_view stem = maildir::name_stem(name);
    SourceEntry e;
    e.file_base = base_of(name);
    if (uid == 0) {
      e.uidl = courier_escaped_name(stem);
    } else if (uidv != 0) {
      e.uidl = "UID" + std::to_string(uid) + "-" + std::to_string(uidv);
    } else {
      e.uidl = "UID" + std::to_string(uid);
    }
    out.entries.push_back(std::move(e));
  }
  return out;
}

Result<UidlSource> parse_plain_uidl_list(std::string_view text) {
  UidlSource out;
  std::string_view rest = text;
  std::string_view line;
  while (next_line(rest, line)) {
    std::string_view fields = line;
    std::string_view name = next_field(fields);
    if (name.empty() || name[0] == '#') continue;
    std::string_view uidl = next_field(fields);
    if (uidl.empty() || !next_field(fields).empty()) {
      ++out.malformed_lines;
      continue;
    }
    out.entries.push_back(SourceEntry{base_of(name), std::string(uidl)});
  }
  return out;
}

}  // namespace mailroom::storage::uidl
