// Tests for the APOP timestamp: a msg-id whose length leaves the longest banner its room,
// whatever the host name.
#include <doctest/doctest.h>

#include <string>

#include "modules/pop3/apop_timestamp.h"
#include "modules/pop3/session.h"

using mailroom::pop3::apop_timestamp;
using mailroom::pop3::kMaxApopTimestampLength;
using mailroom::pop3::kMaxBannerLength;
using mailroom::pop3::msg_id_safe_host;

TEST_CASE("a short host name is kept whole") {
  CHECK(apop_timestamp("4242", 1796545075123456, 7, "mx.example.test") == "<4242.1796545075123456.7@mx.example.test>");
}

TEST_CASE("a long host name is cut so the timestamp and the longest banner fit one reply line") {
  const std::string host(253, 'h');  // the longest DNS name
  const std::string stamp = apop_timestamp("4194304", 1796545075123456, 18446744073709551615ULL, host);
  CHECK(stamp.size() == kMaxApopTimestampLength);
  CHECK(stamp.rfind("<4194304.1796545075123456.18446744073709551615@hhh", 0) == 0);
  CHECK(stamp.back() == '>');
  CHECK(4 + kMaxBannerLength + 1 + stamp.size() + 2 == 512);  // "+OK ", banner, ' ', stamp, CRLF
  // One octet shorter than the room: nothing is cut.
  const std::string head = "<1.2.3@";
  const std::string fits(kMaxApopTimestampLength - head.size() - 1, 'a');
  CHECK(apop_timestamp("1", 2, 3, fits) == head + fits + ">");
}

TEST_CASE("the host part of a msg-id has no space, bracket, '@', control or non-ASCII byte") {
  CHECK(msg_id_safe_host("mx.example.test") == "mx.example.test");
  CHECK(msg_id_safe_host("my host<x>@\t\x7f\xc3\xa9") == "my-host-x------");  // ">", "@", TAB, DEL, two UTF-8 bytes
}
