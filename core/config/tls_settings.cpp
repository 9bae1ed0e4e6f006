// Declarations of the TLS settings and their mapping to a TlsConfig.
#include "core/config/tls_settings.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/net/bind_spec.h"
#include "core/tls/openssl_ptr.h"

namespace mailroom::config {
namespace {

// Only OpenSSL knows what a cipher list means (aliases, '+' and '!' operators, what this build
// has), so it is asked, on a scratch context, exactly what the daemon will ask when it builds the
// service's TLS context: a list refused here would leave the service without TLS.
enum class CipherSetting { kTls12, kTls13 };

bool openssl_accepts(CipherSetting which, const std::string& list) {
  tls::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return true;  // cannot check here; the daemon still reports it
  ERR_set_mark();  // leave no error of ours in the thread's queue
  const bool ok = which == CipherSetting::kTls12 ? SSL_CTX_set_cipher_list(ctx.get(), list.c_str()) == 1
                                                 : SSL_CTX_set_ciphersuites(ctx.get(), list.c_str()) == 1;
  ERR_pop_to_mark();
  return ok;
}

std::optional<std::string> check_cipher_list(CipherSetting which, std::string_view value) {
  if (value.empty()) return std::nullopt;  // the default
  const std::string list(value);
  if (openssl_accepts(which, list)) return std::nullopt;
  // The two lists are easily swapped: say so when the value belongs in the other setting.
  const CipherSetting other = which == CipherSetting::kTls12 ? CipherSetting::kTls13 : CipherSetting::kTls12;
  const bool swapped = openssl_accepts(other, list);
  if (which == CipherSetting::kTls12) {
    return std::string("OpenSSL finds no TLS 1.2 cipher in this list (see 'openssl ciphers -v LIST')") +
           (swapped ? "; TLS 1.3 suites such as TLS_AES_128_GCM_SHA256 belong in tls_ciphersuites" : "");
  }
  return std::string("OpenSSL knows no TLS 1.3 ciphersuite in this list (e.g. TLS_AES_128_GCM_SHA256:"
                     "TLS_CHACHA20_POLY1305_SHA256)") +
         (swapped ? "; TLS 1.2 ciphers belong in tls_ciphers" : "");
}

}  // namespace

std::vector<SettingSpec> tls_setting_specs(int64_t default_tls_port) {
  std::vector<SettingSpec> specs;
  specs.push_back(bool_setting("implicit_tls", true,
                               "Listen on the implicit TLS port (TLS from the first byte) as well as the plain "
                               "port."));
  specs.push_back(int_setting("tls_port", default_tls_port, 1, 65535,
                              "Port of the implicit TLS listener (for tls_binds entries without a port)."));
  specs.push_back(string_setting(
      "tls_binds", "*", 4096,
      "Addresses for the implicit TLS listener, in the same syntax as binds; entries without a port "
      "use tls_port.",
      net::check_bind_list));
  specs.push_back(bool_setting("starttls", true,
                               "Offer the in-protocol upgrade to TLS on plain ports."));
  specs.push_back(bool_setting("tls_required_for_login", true,
                               "Refuse (and hide) logins that would send a password over an unencrypted "
                               "connection; clients must upgrade to TLS ('starttls') or use the implicit TLS "
                               "port first."));
  specs.push_back(bool_setting("plaintext_login_from_loopback", true,
                               "Exempt connections from loopback addresses (127.0.0.0/8, ::1) and through "
                               "'unix_socket' from tls_required_for_login."));
  specs.push_back(string_setting("cert", "tls/cert.pem", 4096,
                                 "Certificate file (PEM, chain after the leaf); relative paths are in the "
                                 "data directory. Replaced files are picked up without a restart."));
  specs.push_back(string_setting("key", "tls/key.pem", 4096,
                                 "Private key file (PEM, unencrypted) for cert; relative to the data "
                                 "directory."));
  specs.push_back(int_setting("cert_warn_days", 21, 0, 3650,
                              "Warn (log event tls.cert_expiring, and 'mailctl service status') when the "
                              "certificate expires within this many days: when it is loaded, then once a day; "
                              "0 never warns."));
  specs.push_back(string_setting("tls_min_version", "1.2", 16,
                                 "Lowest TLS version accepted: 1.2 (default), 1.3, or 1.1/1.0 for old "
                                 "clients; 'legacy' means TLS 1.0 with the old CBC-SHA1 ciphers allowed. "
                                 "SSLv2/SSLv3 are refused: they are broken.",
                                 [](std::string_view v) { return tls::check_min_version(v); }));
  specs.push_back(string_setting("tls_ciphers", "", 2048,
                                 "OpenSSL cipher list for TLS 1.2 and below; empty = forward-secret AEAD "
                                 "ciphers only (legacy: OpenSSL's DEFAULT at security level 0).",
                                 [](std::string_view v) { return check_cipher_list(CipherSetting::kTls12, v); }));
  specs.push_back(string_setting("tls_ciphersuites", "", 1024,
                                 "TLS 1.3 ciphersuites; empty = OpenSSL's default.",
                                 [](std::string_view v) { return check_cipher_list(CipherSetting::kTls13, v); }));
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
