// The APOP timestamp of a POP3 greeting: pure, unit-tested (tests/unit/pop3/apop_timestamp_test.cpp).
#include "modules/pop3/apop_timestamp.h"

#include "modules/pop3/session.h"

namespace mailroom::pop3 {

std::string msg_id_safe_host(std::string_view host_name) {
  std::string name(host_name);
  for (char& c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || c == '<' || c == '>' || c == '@' || u >= 0x7f) c = '-';
  }
  return name;
}

std::string apop_timestamp(std::string_view pid, int64_t micros, uint64_t counter, std::string_view host) {
  std::string head = "<" + std::string(pid) + "." + std::to_string(micros) + "." + std::to_string(counter) + "@";
  const std::size_t room = kMaxApopTimestampLength - 1 /* ">" */;
  return head + std::string(host.substr(0, room > head.size() ? room - head.size() : 0)) + ">";
}

}  // namespace mailroom::pop3
