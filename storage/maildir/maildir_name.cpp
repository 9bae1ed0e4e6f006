// Maildir naming rules: unique names, uids, and the attributes encoded in names.
#include "storage/maildir/maildir_name.h"

#include <openssl/evp.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <limits>

namespace mailroom::storage::maildir {

namespace {

constexpr std::size_t kMaxUidLength = 70;  // RFC 1939 UIDL

std::atomic<uint64_t> g_delivery_counter{0};

}  // namespace

const std::string& sanitized_hostname() {
  static const std::string host = [] {
    char buf[256] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return std::string("localhost");
    return sanitize_hostname(buf);
  }();
  return host;
}

std::string sanitize_hostname(std::string_view host) {
  std::string out;
  out.reserve(host.size());
  for (char c : host) {
    if (c == '/') {
      out += "\\057";
    } else if (c == ':') {
      out += "\\072";
    } else {
      out += c;
    }
  }
  return out;
}

std::string make_unique_name() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  // The counter makes two deliveries in the same microsecond by one process distinct.
  uint64_t q = g_delivery_counter.fetch_add(1, std::memory_order_relaxed) + 1;
  return std::to_string(static_cast<long long>(tv.tv_sec)) + ".M" +
         std::to_string(static_cast<long long>(tv.tv_usec)) + "P" +
         std::to_string(static_cast<long long>(getpid())) + "Q" + std::to_string(q) + "." +
         sanitized_hostname();
}

std::optional<NameWriter> name_writer(std::string_view name) {
  // "<digits>.M<digits>P<pid>Q<digits>.<host>"
  auto digits = [&](std::size_t& i) {
    const std::size_t start = i;
    while (i < name.size() && name[i] >= '0' && name[i] <= '9') ++i;
    return i > start && i - start <= 18;
  };
  std::size_t i = 0;
  if (!digits(i) || name.substr(i, 2) != ".M") return std::nullopt;
  i += 2;
  if (!digits(i) || i >= name.size() || name[i] != 'P') return std::nullopt;
  const std::size_t pid_start = ++i;
  if (!digits(i)) return std::nullopt;
  const long long pid = std::stoll(std::string(name.substr(pid_start, i - pid_start)));
  if (i >= name.size() || name[i] != 'Q') return std::nullopt;
  ++i;
  if (!digits(i) || i >= name.size() || name[i] != '.') return std::nullopt;
  std::string_view host = name.substr(i + 1);
  host = host.substr(0, host.find(','));  // a committed name's ",S=..." (tmp/ names have none)
  if (host.empty()) return std::nullopt;
  return NameWriter{pid, std::string(host)};
}

std::string_view name_stem(std::string_view file_name) {
  return file_name.substr(0, file_name.find(':'));
}

std::string_view name_base(std::string_view file_name) {
  std::string_view stem = name_stem(file_name);
  for (std::size_t i = stem.find(','); i != std::string_view::npos; i = stem.find(',', i + 1)) {
    if (i + 2 < stem.size() && std::isalpha(static_cast<unsigned char>(stem[i + 1])) != 0 &&
        stem[i + 2] == '=') {
      return stem.substr(0, i);
    }
  }
  return stem;
}

std::string sha1_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), md, &len, EVP_sha1(), nullptr) != 1) return {};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xF];
  }
  return out.substr(0, 40);
}

bool valid_uidl(std::string_view uidl) {
  if (uidl.empty() || uidl.size() > kMaxUidLength) return false;
  for (char c : uidl) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E) return false;
  }
  return true;
}

std::string uid_from_name(std::string_view file_name) {
  std::string_view base = name_base(file_name);
  if (valid_uidl(base)) return std::string(base);
  return sha1_hex(base);
}

std::optional<uint64_t> wire_size_from_name(std::string_view file_name) {
  std::string_view stem = name_stem(file_name);
  for (std::size_t i = stem.find(",W="); i != std::string_view::npos; i = stem.find(",W=", i + 1)) {
    std::size_t p = i + 3;
    uint64_t value = 0;
    bool any = false;
    bool overflow = false;
    while (p < stem.size() && std::isdigit(static_cast<unsigned char>(stem[p])) != 0) {
      auto d = static_cast<uint64_t>(stem[p] - '0');
      if (value > (std::numeric_limits<uint64_t>::max() - d) / 10) overflow = true;
      value = value * 10 + d;
      any = true;
      ++p;
    }
    // A well-formed tag ends the name or is followed by the next attribute.
    if (any && !overflow && (p == stem.size() || stem[p] == ',')) return value;
  }
  return std::nullopt;
}

uint64_t leading_timestamp(std::string_view file_name) {
  uint64_t value = 0;
  for (char c : file_name) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) break;
    auto d = static_cast<uint64_t>(c - '0');
    if (value > (std::numeric_limits<uint64_t>::max() - d) / 10) {
      return std::numeric_limits<uint64_t>::max();
    }
    value = value * 10 + d;
  }
  return value;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// -1, 0, 1 comparing two digit runs by value, whatever their length or leading zeros.
int compare_numbers(std::string_view a, std::string_view b) {
  auto strip = [](std::string_view s) {
    while (s.size() > 1 && s[0] == '0') s.remove_prefix(1);
    return s;
  };
  a = strip(a);
  b = strip(b);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

}  // namespace

bool delivery_order_less(std::string_view a, std::string_view b) {
  uint64_t ta = leading_timestamp(a);
  uint64_t tb = leading_timestamp(b);
  if (ta != tb) return ta < tb;
  std::size_t i = 0;
  std::size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (is_digit(a[i]) && is_digit(b[j])) {
      std::size_t ei = i;
      std::size_t ej = j;
      while (ei < a.size() && is_digit(a[ei])) ++ei;
      while (ej < b.size() && is_digit(b[ej])) ++ej;
      if (int c = compare_numbers(a.substr(i, ei - i), b.substr(j, ej - j)); c != 0) return c < 0;
      i = ei;
      j = ej;
      continue;
    }
    if (a[i] != b[j]) return static_cast<unsigned char>(a[i]) < static_cast<unsigned char>(b[j]);
    ++i;
    ++j;
  }
  if ((i < a.size()) != (j < b.size())) return j < b.size();
  return a < b;
}

}  // namespace mailroom::storage::maildir
