// Declarations of the TLS settings and their mapping to a TlsConfig.
#include "core/config/tls_settings.h"

#include "core/net/bind_spec.h"

namespace mailroom::config {

std::vector<SettingSpec> tls_setting_specs(int64_t default_tls_port) {
  std::vector<SettingSpec> specs;
  specs.push_back(bool_setting("implicit_tls", true,
                               "Listen on the implicit TLS port (TLS from the first byte, e.g. POP3S on "
                               "995) as well as the plain port."));
  specs.push_back(int_setting("tls_port", default_tls_port, 1, 65535,
                              "Port of the implicit TLS listener (for tls_binds entries without a port)."));
  specs.push_back(string_setting(
      "tls_binds", "*", 4096,
      "Addresses for the implicit TLS listener, in the same syntax as binds; entries without a port "
      "use tls_port.",
      net::check_bind_list));
  specs.push_back(bool_setting("starttls", true,
                               "Offer the in-protocol upgrade to TLS (POP3 STLS) on plain ports."));
  specs.push_back(bool_setting("tls_required_for_login", true,
                               "Refuse (and hide) logins that would send a password over an unencrypted "
                               "connection; clients must use STLS or the implicit TLS port first."));
  specs.push_back(bool_setting("plaintext_login_from_loopback", true,
                               "Exempt connections from loopback addresses (127.0.0.0/8, ::1) from "
                               "tls_required_for_login."));
  specs.push_back(string_setting("cert", "tls/cert.pem", 4096,
                                 "Certificate file (PEM, chain after the leaf); relative paths are in the "
                                 "data directory. Replaced files are picked up without a restart."));
  specs.push_back(string_setting("key", "tls/key.pem", 4096,
                                 "Private key file (PEM, unencrypted) for cert; relative to the data "
                                 "directory."));
  specs.push_back(string_setting("tls_min_version", "1.2", 16,
                                 "Lowest TLS version accepted: 1.2 (default), 1.3, or 1.1/1.0 for old "
                                 "clients; 'legacy' means TLS 1.0 with the old CBC-SHA1 ciphers allowed. "
                                 "SSLv2/SSLv3 are refused: they are broken.",
                                 [](std::string_view v) { return tls::check_min_version(v); }));
  specs.push_back(string_setting("tls_ciphers", "", 2048,
                                 "OpenSSL cipher list for TLS 1.2 and below; empty = forward-secret AEAD "
                                 "ciphers only (legacy: OpenSSL's DEFAULT at security level 0)."));
  specs.push_back(string_setting("tls_ciphersuites", "", 1024,
                                 "TLS 1.3 ciphersuites; empty = OpenSSL's default."));
  return specs;
}

tls::TlsConfig tls_config_from(const ServiceSettings& settings, const std::string& data_dir) {
  auto resolve = [&](const std::string& path) {
    if (path.empty() || path.front() == '/') return path;
    return data_dir + "/" + path;
  };
  tls::TlsConfig c;
  c.cert_file = resolve(settings.get_string("cert"));
  c.key_file = resolve(settings.get_string("key"));
  c.min_version = settings.get_string("tls_min_version");
  c.ciphers = settings.get_string("tls_ciphers");
  c.ciphersuites = settings.get_string("tls_ciphersuites");
  return c;
}

}  // namespace mailroom::config
