// mailctl cert: the TLS certificate in DATA/tls/ (the default 'cert' and 'key' settings):
// generate a self-signed one (never over an imported one without --force, which keeps a backup),
// import a real one (validated before anything is replaced), show it field by field.
// The running daemon notices replaced files within a second and reloads them.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "core/tls/certificate.h"
#include "storage/secrets/private_file.h"

namespace mailroom::cli {

namespace fs = std::filesystem;

namespace {

constexpr int kDefaultCertDays = 825;  // the longest validity clients still accept
// The SHA-256 fingerprint of the certificate 'cert generate' (or init) made last: a cert.pem with
// another fingerprint was imported or put there by hand, and is not replaced without --force.
constexpr const char* kGeneratedMarker = "generated.sha256";

std::string tls_dir(const Context& ctx) { return ctx.data_dir() + "/tls"; }
std::string cert_path(const Context& ctx) { return tls_dir(ctx) + "/cert.pem"; }
std::string key_path(const Context& ctx) { return tls_dir(ctx) + "/key.pem"; }
std::string marker_path(const Context& ctx) { return tls_dir(ctx) + "/" + kGeneratedMarker; }

// This host's name when it is a valid DNS name (it goes into the certificate), else "localhost".
std::string local_hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || !tls::is_dns_name(buf)) return "localhost";
  return buf;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// DATA/tls holds the private key: created 0700 (mkdir's own mode, not a chmod afterwards).
Status ensure_tls_dir(const Context& ctx) {
  const std::string dir = tls_dir(ctx);
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return make_error(ErrorCode::kIo, "cannot create " + dir + ": " + std::strerror(errno));
}

// Key first: for a moment the daemon may see the new key with the old certificate, which it
// rejects while keeping the old context; the certificate follows at once. Each file is a new
// temporary file (O_EXCL, its mode from the start: 0600 for the key), synced, renamed into place.
Status install_pair(const Context& ctx, const std::string& cert_pem, const std::string& key_pem) {
  if (Status s = storage::write_file_atomically(key_path(ctx), key_pem, 0600); !s) return s;
  return storage::write_file_atomically(cert_path(ctx), cert_pem, 0644);
}

// The installed certificate was made by mailctl: its fingerprint is the one recorded then.
bool generated_by_mailctl(const Context& ctx, const tls::CertificateInfo& info) {
  auto marker = read_file(marker_path(ctx));
  if (!marker) return false;
  std::string recorded = *marker;
  while (!recorded.empty() && (recorded.back() == '\n' || recorded.back() == '\r')) recorded.pop_back();
  return !recorded.empty() && recorded == info.sha256_fingerprint;
}

// "<path>.bak-<stamp>" (stamp: 20261205T175600Z) not taken yet; a second backup in the same second
// gets "-2", and so on.
std::string backup_name(const std::string& path, const std::string& stamp) {
  std::error_code ec;
  std::string name = path + ".bak-" + stamp;
  for (int n = 2; fs::exists(name, ec) && n < 100; ++n) name = path + ".bak-" + stamp + "-" + std::to_string(n);
  return name;
}

// Copies the current cert.pem (and key.pem, private) next to them before they are replaced.
Result<CertificateBackup> back_up_pair(const Context& ctx) {
  char stamp[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
  CertificateBackup backup;
  std::error_code ec;
  for (auto [path, mode, out] : {std::tuple{key_path(ctx), mode_t{0600}, &backup.key},
                                 std::tuple{cert_path(ctx), mode_t{0644}, &backup.cert}}) {
    if (!fs::exists(path, ec)) continue;
    auto data = read_file(path);
    if (!data) return data.error();
    const std::string name = backup_name(path, stamp);
    if (Status s = storage::write_file_atomically(name, *data, mode); !s) return s.error();
    *out = name;
  }
  return backup;
}

// Before generate replaces cert.pem: nothing to keep when there is none or mailctl made it; an
// imported one is refused without --force, and kept as a backup with it.
Result<CertificateBackup> make_room_for_generated(const Context& ctx, bool force) {
  std::error_code ec;
  if (!fs::exists(cert_path(ctx), ec)) return CertificateBackup{};
  auto info = tls::inspect_certificate(cert_path(ctx));
  if (info && generated_by_mailctl(ctx, *info)) return CertificateBackup{};
  if (!force) {
    const std::string what = info ? "(" + info->subject + ", issued by " + info->issuer + ")" : "(unreadable)";
    return make_error(ErrorCode::kAlreadyExists,
                      cert_path(ctx) + " " + what + " was not generated by mailctl: it was imported or put there by "
                      "hand; 'mailctl cert generate --force' replaces it and keeps a backup of it and its key");
  }
  return back_up_pair(ctx);
}

nlohmann::ordered_json optional_text(const std::string& text) {
  return text.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(text);
}

nlohmann::ordered_json certificate_json(const Context& ctx, const tls::CertificateInfo& info) {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  return {{"cert", cert_path(ctx)},
          {"key", key_path(ctx)},
          {"subject", info.subject},
          {"issuer", info.issuer},
          {"dns_names", info.dns_names},
          {"ip_addresses", info.ip_addresses},
          {"not_before_at", format_time_iso(info.not_before)},
          {"not_after_at", format_time_iso(info.not_after)},
          {"days_left", tls::days_left(info.not_after, now)},
          {"serial", info.serial},
          {"sha256_fingerprint", info.sha256_fingerprint},
          {"key_type", info.key_type},
          {"key_bits", info.key_bits},
          {"chain_length", info.chain_length},
          {"self_signed", info.self_signed},
          {"generated_by_mailctl", generated_by_mailctl(ctx, info)}};
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out.empty() ? "-" : out;
}

void print_certificate(const Context& ctx, const tls::CertificateInfo& info) {
  const int64_t left = tls::days_left(info.not_after, static_cast<int64_t>(std::time(nullptr)));
  const std::vector<std::pair<std::string, std::string>> rows = {
      {"certificate", cert_path(ctx)},
      {"subject", info.subject},
      {"issuer", info.issuer + (info.self_signed ? " (self-signed)" : "")},
      {"DNS names", joined(info.dns_names)},
      {"IP addresses", joined(info.ip_addresses)},
      {"valid from", format_time_iso(info.not_before)},
      {"valid until", format_time_iso(info.not_after) +
                          (left < 0 ? " (expired)" : " (" + std::to_string(left) + (left == 1 ? " day left)" : " days left)"))},
      {"serial", info.serial},
      {"SHA-256", info.sha256_fingerprint},
      {"key", info.key_type + " " + std::to_string(info.key_bits) + " bits"},
      {"chain", std::to_string(info.chain_length) + (info.chain_length == 1 ? " certificate" : " certificates") +
                    " in the file, the leaf included"},
      {"origin", generated_by_mailctl(ctx, info) ? "generated by mailctl" : "imported"}};
  for (const auto& [label, value] : rows) {  // names come from the file: no terminal escapes
    print_line(escape_control(label + ":" + std::string(13 - label.size(), ' ') + value));
  }
}

}  // namespace

std::string backup_note(const CertificateBackup& backup) {
  if (backup.cert.empty()) return "";
  return "the replaced certificate is kept in " + backup.cert +
         (backup.key.empty() ? "" : " and its key in " + backup.key);
}

Result<CertificateBackup> generate_default_certificate(const Context& ctx, const CertificateRequest& request) {
  if (Status s = ensure_tls_dir(ctx); !s) return s.error();
  tls::SelfSignedRequest make{request.hostname.empty() ? local_hostname() : request.hostname, request.names,
                              request.ips, request.days};
  if (make.dns_names.empty() && make.ip_addresses.empty()) {  // init's set: reachable by name and on loopback
    make.dns_names = {"localhost"};
    make.ip_addresses = {"127.0.0.1", "::1"};
  }
  auto pair = tls::make_self_signed(make);  // bad names refused before anything is touched
  if (!pair) return pair.error();
  auto backup = make_room_for_generated(ctx, request.force);
  if (!backup) return backup.error();
  if (Status s = install_pair(ctx, pair->cert, pair->key); !s) return s.error();
  auto info = tls::inspect_certificate(cert_path(ctx));
  if (!info) return info.error();
  if (Status s = storage::write_file_atomically(marker_path(ctx), info->sha256_fingerprint + "\n", 0644); !s) {
    return s.error();
  }
  return backup;
}

void add_cert_commands(CLI::App& app, Context& ctx) {
  CLI::App* cert = app.add_subcommand("cert", "Manage the TLS certificate (DATA/tls/cert.pem, key.pem)");
  cert->require_subcommand(1);

  auto request = std::make_shared<CertificateRequest>();
  request->days = kDefaultCertDays;
  CLI::App* gen = cert->add_subcommand("generate", "Create a new self-signed certificate");
  gen->add_option("--hostname", request->hostname,
                  "Common name and first DNS name (default: this host's name)");
  gen->add_option("--name", request->names, "Another DNS name for the certificate (repeatable)")
      ->allow_extra_args(false);
  gen->add_option("--ip", request->ips, "An IP address for the certificate (repeatable)")->allow_extra_args(false);
  gen->add_option("--days", request->days, "Validity in days")->check(CLI::Range(1, 3650));
  gen->add_flag("--force", request->force,
                "Replace a certificate that mailctl did not generate (a backup of it and its key is kept)");
  gen->callback([&ctx, request] {
    ctx.action = [&ctx, request]() -> Status {
      auto backup = generate_default_certificate(ctx, *request);
      if (!backup) return backup.error();
      auto info = tls::inspect_certificate(cert_path(ctx));
      if (!info) return info.error();
      nlohmann::ordered_json out = certificate_json(ctx, *info);
      out["backup_cert"] = optional_text(backup->cert);
      out["backup_key"] = optional_text(backup->key);
      const std::string note = backup_note(*backup);
      std::string names = joined(info->dns_names) + (info->ip_addresses.empty() ? "" : ", " + joined(info->ip_addresses));
      ctx.done("generated a self-signed certificate for " + names + ", valid until " +
                   format_time_iso(info->not_after) + (note.empty() ? "" : "; " + note),
               std::move(out));
      return {};
    };
  });

  auto cert_file = std::make_shared<std::string>();
  auto key_file = std::make_shared<std::string>();
  auto chain_file = std::make_shared<std::string>();
  CLI::App* imp = cert->add_subcommand("import", "Validate and install a certificate, its key and chain");
  imp->add_option("CERT", *cert_file, "PEM certificate")->required();
  imp->add_option("KEY", *key_file, "PEM private key (unencrypted)")->required();
  imp->add_option("CHAIN", *chain_file, "PEM intermediate certificates (optional)");
  imp->callback([&ctx, cert_file, key_file, chain_file] {
    ctx.owner_switch_deferred = true;  // the key may be readable by root only (e.g. certbot's)
    ctx.action = [&ctx, cert_file, key_file, chain_file]() -> Status {
      // Validate everything first: a bad certificate must never replace a working one.
      auto summary = tls::check_certificate(*cert_file, *key_file, *chain_file);
      if (!summary) return summary.error();
      auto cert_pem = read_file(*cert_file);
      if (!cert_pem) return cert_pem.error();
      auto key_pem = read_file(*key_file);
      if (!key_pem) return key_pem.error();
      std::string full = *cert_pem;
      if (!chain_file->empty()) {
        auto chain_pem = read_file(*chain_file);
        if (!chain_pem) return chain_pem.error();
        if (!full.empty() && full.back() != '\n') full += '\n';
        full += *chain_pem;
      }
      if (Status s = ctx.act_as_data_owner(); !s) return s;
      if (Status s = ensure_tls_dir(ctx); !s) return s;
      if (Status s = install_pair(ctx, full, *key_pem); !s) return s;
      // The installed certificate is an imported one now: 'cert generate' needs --force to replace it.
      std::error_code ec;
      fs::remove(marker_path(ctx), ec);
      auto info = tls::inspect_certificate(cert_path(ctx));
      if (!info) return info.error();
      ctx.done("imported certificate: " + *summary, certificate_json(ctx, *info));  // cert show's object
      return {};
    };
  });

  CLI::App* show = cert->add_subcommand("show", "Describe the installed certificate: names, dates, fingerprint");
  show->callback([&ctx] {
    ctx.action = [&ctx]() -> Status {
      auto info = tls::inspect_certificate(cert_path(ctx));
      if (!info) return info.error();
      if (ctx.json) {
        print_json(certificate_json(ctx, *info));
      } else {
        print_certificate(ctx, *info);
      }
      return {};
    };
  });
}

}  // namespace mailroom::cli
