// Settings checked against each other before they are stored (admin-cli/settings_check.h):
// ports used twice, a TLS listener without a certificate, a bind address the machine lacks.
#include <doctest/doctest.h>

#include <string>

#include "admin-cli/settings_check.h"

using namespace mailroom;
using namespace mailroom::cli;

namespace {

CheckedService service(std::string name, int port, int tls_port, bool enabled = true) {
  CheckedService s;
  s.name = std::move(name);
  s.enabled = enabled;
  s.network.port = port;
  s.network.binds = "*";
  s.network.implicit_tls = true;
  s.network.tls_port = tls_port;
  s.network.tls_binds = "*";
  return s;
}

SettingsCheckInput input(CheckedService changed, std::string key) {
  SettingsCheckInput in;
  in.changed = std::move(changed);
  in.key = std::move(key);
  in.certificate_problem = [] { return std::optional<std::string>(); };
  in.has_address = [](std::string_view a) { return a == "127.0.0.1" || a == "::1" || a == "192.0.2.10"; };
  return in;
}

bool mentions(const std::vector<std::string>& lines, const std::string& a, const std::string& b) {
  for (const auto& l : lines) {
    if (l.find(a) != std::string::npos && l.find(b) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a port used twice by one service is refused, naming both settings") {
  auto in = input(service("pop3", 1110, 1110), "tls_port");
  auto result = check_settings(in);
  REQUIRE(result.errors.size() == 1);
  CHECK(mentions(result.errors, "port 1110", "its port and its tls_port"));
  CHECK(mentions(result.errors, "service pop3", "tls_port"));

  auto alt = service("pop3", 1110, 1995);
  alt.network.alt_port = 1995;
  result = check_settings(input(alt, "alt_port"));
  REQUIRE(result.errors.size() == 1);
  CHECK(mentions(result.errors, "port 1995", "its alt_port and its tls_port"));

  alt.network.alt_port = 1110;  // the same as port
  result = check_settings(input(alt, "alt_port"));
  REQUIRE(result.errors.size() == 1);
  CHECK(mentions(result.errors, "port 1110", "its port and its alt_port"));
}

TEST_CASE("a bind entry's own port counts like the port setting") {
  auto svc = service("pop3", 1110, 1995);
  svc.network.binds = "127.0.0.1, 127.0.0.1 1995";
  auto result = check_settings(input(svc, "binds"));
  REQUIRE(result.errors.size() == 1);
  CHECK(mentions(result.errors, "port 1995 on 127.0.0.1", "its binds and its tls_port"));
}

TEST_CASE("different addresses on one port do not collide; a wildcard collides with every address") {
  auto svc = service("pop3", 1110, 1110);
  svc.network.binds = "127.0.0.1";
  svc.network.tls_binds = "127.0.0.2";
  CHECK(check_settings(input(svc, "tls_binds")).errors.empty());
  svc.network.tls_binds = "*";
  CHECK(check_settings(input(svc, "tls_binds")).errors.size() == 1);
  svc.network.implicit_tls = false;  // no TLS listener: no conflict
  CHECK(check_settings(input(svc, "implicit_tls")).errors.empty());
}

TEST_CASE("two enabled services on one port are refused, naming both") {
  auto in = input(service("pop3", 2525, 1995), "port");
  in.others = {service("smtp", 2525, 4465), service("lmtp", 2424, 2525, /*enabled=*/false)};
  auto result = check_settings(in);
  REQUIRE(result.errors.size() == 1);
  CHECK(mentions(result.errors, "port 2525 is already used by service smtp (its port)", "service pop3"));

  in.others[0].enabled = false;  // a disabled service listens on nothing
  CHECK(check_settings(in).errors.empty());
  in.others[0].enabled = true;
  in.changed.enabled = false;  // nor does the one being changed, while disabled
  CHECK(check_settings(in).errors.empty());
  in.changed.enabled = true;
  in.key = "";  // enabling it checks again
  CHECK(check_settings(in).errors.size() == 1);
}

TEST_CASE("settings that open no listener are not checked for ports") {
  auto in = input(service("pop3", 1110, 1110), "banner");
  CHECK(check_settings(in).errors.empty());
}

TEST_CASE("an implicit TLS listener needs a usable certificate") {
  auto in = input(service("pop3", 1110, 1995), "tls_port");
  in.certificate_problem = [] { return std::optional<std::string>("cannot read tls/cert.pem"); };
  auto result = check_settings(in);
  REQUIRE(result.errors.size() == 1);
  CHECK(mentions(result.errors, "cannot read tls/cert.pem", "mailctl cert generate"));
  CHECK(mentions(result.errors, "port 1995", "service pop3"));

  in.key = "port";  // not a TLS setting: the certificate is not asked about
  CHECK(check_settings(in).errors.empty());
  in.key = "implicit_tls";
  in.changed.network.implicit_tls = false;
  CHECK(check_settings(in).errors.empty());
  in.changed.network.implicit_tls = true;
  in.changed.network.tls_binds = "none";
  CHECK(check_settings(in).errors.empty());
}

TEST_CASE("a new cert or key that does not fit yet is a warning: a pair is switched in two commands") {
  auto in = input(service("pop3", 1110, 1995), "cert");
  in.certificate_problem = [] { return std::optional<std::string>("private key does not match certificate"); };
  auto result = check_settings(in);
  CHECK(result.errors.empty());
  REQUIRE(result.warnings.size() == 1);
  CHECK(mentions(result.warnings, "does not match", "keeps its current certificate"));
  in.key = "key";
  CHECK(check_settings(in).warnings.size() == 1);
  CHECK(check_settings(in).errors.empty());
}

TEST_CASE("a bind address the machine does not have is a warning, not an error") {
  auto svc = service("pop3", 1110, 1995);
  svc.network.binds = "127.0.0.1, 192.0.2.99, mail.example.test, *";
  auto result = check_settings(input(svc, "binds"));
  CHECK(result.errors.empty());
  REQUIRE(result.warnings.size() == 1);
  CHECK(mentions(result.warnings, "no address 192.0.2.99", "binds of service pop3"));

  svc.network.tls_binds = "[2001:db8::1]:1995";
  result = check_settings(input(svc, "tls_binds"));
  REQUIRE(result.warnings.size() == 1);
  CHECK(mentions(result.warnings, "2001:db8::1", "tls_binds"));

  CHECK(check_settings(input(svc, "port")).warnings.empty());  // only the bind lists are looked at
}

TEST_CASE("proxy_protocol on with nobody in proxy_trusted is refused, naming proxy_trusted") {
  auto svc = service("pop3", 110, 995);
  svc.network.proxy_protocol = true;
  for (const char* key : {"proxy_protocol", "proxy_trusted", ""}) {
    auto result = check_settings(input(svc, key));
    REQUIRE(result.errors.size() == 1);
    CHECK(mentions(result.errors, "proxy_trusted names no load balancer", "service pop3"));
  }
  CHECK(check_settings(input(svc, "port")).errors.empty());  // not this check's business

  svc.network.proxy_trusted = " , ";  // only empty entries: still nobody
  CHECK(check_settings(input(svc, "proxy_trusted")).errors.size() == 1);
  svc.network.proxy_trusted = "10.0.0.5, 10.0.1.0/24";
  CHECK(check_settings(input(svc, "proxy_trusted")).errors.empty());
  svc.network.proxy_trusted = "";
  svc.network.proxy_protocol = false;
  CHECK(check_settings(input(svc, "proxy_protocol")).errors.empty());
}
