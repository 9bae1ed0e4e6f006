// The PROXY protocol header parser (core/net/proxy_header.h) on byte vectors: v1 TCP4, TCP6 and
// UNKNOWN, v2 PROXY and LOCAL, TLVs, every prefix needing more, and the errors.
#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "core/net/proxy_header.h"

using mailroom::net::parse_proxy_header;
using mailroom::net::ProxyParse;
using Status = mailroom::net::ProxyParse::Status;

namespace {

constexpr std::size_t kLimit = 1024;

std::string bytes(std::initializer_list<int> list) {
  std::string out;
  for (int b : list) out += static_cast<char>(b);
  return out;
}

const std::string kSig{"\r\n\r\n\0\r\nQUIT\n", 12};

// A v2 header: version/command, family/transport, then `rest` (addresses and TLVs); the length
// field counts `rest` unless `length` says otherwise.
std::string v2(int ver_cmd, int fam, const std::string& rest, int length = -1) {
  const int len = length < 0 ? static_cast<int>(rest.size()) : length;
  return kSig + bytes({ver_cmd, fam, len >> 8, len & 0xFF}) + rest;
}

const std::string kInet = bytes({192, 0, 2, 7, 10, 0, 0, 1, 0xC3, 0x50, 0x00, 0x6E});  // :50000 -> :110

std::string inet6_block() {
  std::string s = bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x05});
  s += bytes({0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01});
  s += bytes({0x04, 0x00, 0x03, 0xE3});  // 1024 -> 995
  return s;
}

// Every proper prefix needs more; the whole is complete.
void check_prefixes(const std::string& header) {
  for (std::size_t n = 0; n < header.size(); ++n) {
    INFO("prefix of " << n << " octets");
    CHECK(parse_proxy_header(std::string_view(header).substr(0, n), kLimit).status == Status::kNeedMore);
  }
}

ProxyParse refused(const std::string& data, std::size_t limit = kLimit) {
  ProxyParse p = parse_proxy_header(data, limit);
  CHECK(p.status == Status::kInvalid);
  CHECK_FALSE(p.error.empty());
  return p;
}

}  // namespace

TEST_CASE("v1 TCP4 gives the client's address and port; what follows is the client's") {
  const std::string header = "PROXY TCP4 192.0.2.7 10.0.0.1 50000 110\r\n";
  check_prefixes(header);
  ProxyParse p = parse_proxy_header(header + "USER bob\r\n", kLimit);
  REQUIRE(p.status == Status::kComplete);
  CHECK(p.header.version == 1);
  CHECK_FALSE(p.header.use_connection_address);
  CHECK_FALSE(p.header.ipv6);
  CHECK(p.header.source_ip == "192.0.2.7");
  CHECK(p.header.source_port == 50000);
  CHECK(p.header.dest_ip == "10.0.0.1");
  CHECK(p.header.dest_port == 110);
  CHECK(p.header.length == header.size());
}

TEST_CASE("v1 TCP6 gives an IPv6 address in its canonical form") {
  const std::string header = "PROXY TCP6 2001:DB8:0:0::5 2001:db8::1 1024 995\r\n";
  ProxyParse p = parse_proxy_header(header, kLimit);
  REQUIRE(p.status == Status::kComplete);
  CHECK(p.header.ipv6);
  CHECK(p.header.source_ip == "2001:db8::5");
  CHECK(p.header.source_port == 1024);
  CHECK(p.header.dest_ip == "2001:db8::1");
  CHECK(p.header.dest_port == 995);
}

TEST_CASE("v1 UNKNOWN keeps the connection's own address, whatever follows it") {
  for (std::string header : {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"}) {
    ProxyParse p = parse_proxy_header(header + "+", kLimit);
    REQUIRE(p.status == Status::kComplete);
    CHECK(p.header.use_connection_address);
    CHECK(p.header.source_ip.empty());
    CHECK(p.header.length == header.size());
  }
}

TEST_CASE("a malformed v1 header is refused with a reason") {
  CHECK(refused("PROXY TCP4 192.0.2.7 10.0.0.1 50000\r\n").error.find("single spaces") != std::string::npos);
  CHECK(refused("PROXY TCP4  192.0.2.7 10.0.0.1 50000 110\r\n").error.find("single spaces") != std::string::npos);
  CHECK(refused("PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n").error.find("source '2001:db8::1' is no IPv4") !=
        std::string::npos);
  CHECK(refused("PROXY TCP6 2001:db8::1 10.0.0.1 1 2\r\n").error.find("destination") != std::string::npos);
  CHECK(refused("PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n").error.find("source port '65536'") != std::string::npos);
  CHECK(refused("PROXY TCP4 1.2.3.4 5.6.7.8 1 -1\r\n").error.find("destination port") != std::string::npos);
  CHECK(refused("PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n").error.find("'UDP4'") != std::string::npos);
  CHECK(refused("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n").error.find("bare LF") != std::string::npos);
  CHECK(refused("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX").error.find("CR not followed") != std::string::npos);
  CHECK(refused(std::string("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n", 33)).error.find("control") != std::string::npos);
}

TEST_CASE("a v1 header without CRLF within 107 octets is refused, not waited for") {
  const std::string long_line = "PROXY UNKNOWN " + std::string(93, 'x');  // 107 octets, no CRLF
  CHECK(parse_proxy_header(long_line.substr(0, 106), kLimit).status == Status::kNeedMore);
  CHECK(refused(long_line).error.find("107") != std::string::npos);
  CHECK(refused(long_line.substr(0, 106) + "\r\n").error.find("longer than 107") != std::string::npos);
  CHECK(parse_proxy_header(long_line.substr(0, 106) + "\r", kLimit).status == Status::kInvalid);
  CHECK(parse_proxy_header(long_line.substr(0, 105) + "\r\n", kLimit).status == Status::kComplete);  // 107 in all
  // A limit below 107 applies to v1 too.
  CHECK(refused("PROXY TCP4 192.0.2.7 10.0.0.1 50000 110\r\n", 20).error.find("20") != std::string::npos);
}

TEST_CASE("v2 PROXY over TCP/IPv4 gives the client's address; the client's data follows") {
  const std::string header = v2(0x21, 0x11, kInet);
  check_prefixes(header);
  ProxyParse p = parse_proxy_header(header + "\x16\x03\x01", kLimit);  // a TLS ClientHello follows
  REQUIRE(p.status == Status::kComplete);
  CHECK(p.header.version == 2);
  CHECK_FALSE(p.header.use_connection_address);
  CHECK(p.header.source_ip == "192.0.2.7");
  CHECK(p.header.source_port == 50000);
  CHECK(p.header.dest_ip == "10.0.0.1");
  CHECK(p.header.dest_port == 110);
  CHECK(p.header.length == 28);
}

TEST_CASE("v2 PROXY over TCP/IPv6") {
  ProxyParse p = parse_proxy_header(v2(0x21, 0x21, inet6_block()), kLimit);
  REQUIRE(p.status == Status::kComplete);
  CHECK(p.header.ipv6);
  CHECK(p.header.source_ip == "2001:db8::5");
  CHECK(p.header.source_port == 1024);
  CHECK(p.header.dest_ip == "2001:db8::1");
  CHECK(p.header.dest_port == 995);
  CHECK(p.header.length == 52);
}

TEST_CASE("v2 LOCAL, AF_UNSPEC, AF_UNIX and an unspecified transport keep the connection's address") {
  for (const std::string& header : {v2(0x20, 0x00, ""), v2(0x20, 0x11, kInet), v2(0x20, 0x11, ""),
                                    v2(0x21, 0x00, ""), v2(0x21, 0x31, std::string(216, '\0')),
                                    v2(0x21, 0x10, kInet)}) {
    ProxyParse p = parse_proxy_header(header + "X", kLimit);
    REQUIRE(p.status == Status::kComplete);
    CHECK(p.header.use_connection_address);
    CHECK(p.header.source_ip.empty());
    CHECK(p.header.length == header.size());
  }
}

TEST_CASE("v2 TLVs are skipped, their lengths checked against the header's") {
  const std::string tlvs = bytes({0x01, 0x00, 0x02, 'h', '2'}) +  // ALPN
                           bytes({0x04, 0x00, 0x00}) +            // NOOP, empty
                           bytes({0x20, 0x00, 0x05, 0x01, 0, 0, 0, 0});  // SSL
  const std::string header = v2(0x21, 0x11, kInet + tlvs);
  check_prefixes(header);
  ProxyParse p = parse_proxy_header(header + "USER", kLimit);
  REQUIRE(p.status == Status::kComplete);
  CHECK(p.header.source_ip == "192.0.2.7");
  CHECK(p.header.length == header.size());

  CHECK(refused(v2(0x21, 0x11, kInet + bytes({0x01, 0x00, 0x09, 'h', '2'}))).error.find("runs past") !=
        std::string::npos);
  CHECK(refused(v2(0x21, 0x11, kInet + bytes({0x01, 0x00}))).error.find("cut short") != std::string::npos);
}

TEST_CASE("v2 lengths too short for the addresses, or over the limit, are refused") {
  CHECK(refused(v2(0x21, 0x11, kInet.substr(0, 8))).error.find("shorter than the 12 octets") != std::string::npos);
  CHECK(refused(v2(0x21, 0x21, kInet)).error.find("36 octets of its IPv6") != std::string::npos);
  // Over the limit: refused from the fixed part alone, before the rest arrives.
  const std::string big = v2(0x21, 0x11, kInet, 2000).substr(0, 16);
  CHECK(refused(big).error.find("2016 octets is over the limit of 1024") != std::string::npos);
  CHECK(refused(v2(0x21, 0x11, kInet + std::string(40, '\0')), 60).error.find("over the limit of 60") !=
        std::string::npos);
  // The largest length the field holds still parses under the absolute limit.
  const std::string max_tlv = kInet + bytes({0x04, 0xFF, 0xF0}) + std::string(0xFFF0, '\0');
  const std::string huge = v2(0x21, 0x11, max_tlv);
  REQUIRE(huge.size() == mailroom::net::kProxyHeaderAbsoluteMax);
  CHECK(parse_proxy_header(huge, mailroom::net::kProxyHeaderAbsoluteMax).status == Status::kComplete);
}

TEST_CASE("v2 with another version, command, family or a datagram transport is refused") {
  CHECK(refused(v2(0x11, 0x11, kInet)).error.find("version 1") != std::string::npos);
  CHECK(refused(v2(0x22, 0x11, kInet)).error.find("command 2") != std::string::npos);
  CHECK(refused(v2(0x21, 0x41, kInet)).error.find("family 4") != std::string::npos);
  CHECK(refused(v2(0x21, 0x13, kInet)).error.find("transport 3") != std::string::npos);
  CHECK(refused(v2(0x21, 0x12, kInet)).error.find("datagram") != std::string::npos);
}

TEST_CASE("anything that does not start with a PROXY signature is refused at once") {
  CHECK(refused("USER bob\r\n").error.find("not a PROXY v1 or v2 signature") != std::string::npos);
  CHECK(parse_proxy_header("P", kLimit).status == Status::kNeedMore);  // could still be "PROXY "
  CHECK(refused("p").status == Status::kInvalid);
  CHECK(refused("\x16\x03\x01\x02\x00").error.find("'????") != std::string::npos);  // a TLS ClientHello
  CHECK(refused("PROXY\r\n").status == Status::kInvalid);
  CHECK(refused(kSig.substr(0, 11) + "X").status == Status::kInvalid);
  CHECK(parse_proxy_header("PROX", kLimit).status == Status::kNeedMore);
  CHECK(parse_proxy_header(kSig.substr(0, 5), kLimit).status == Status::kNeedMore);
  CHECK(parse_proxy_header("", kLimit).status == Status::kNeedMore);
}
