// mailctl cert: the TLS certificate in DATA/tls/ (the default 'cert' and 'key' settings):
// generate a self-signed one, import a real one (validated before anything is replaced), show it.
// The running daemon notices replaced files within a second and reloads them.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "admin-cli/commands.h"
#include "core/tls/tls_context.h"

namespace mailroom::cli {

namespace fs = std::filesystem;

namespace {

constexpr int kDefaultCertDays = 825;  // the longest validity clients still accept

std::string tls_dir(const Context& ctx) { return ctx.data_dir() + "/tls"; }

std::string local_hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

Result<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `data` to `path` via a temporary file, fsync and rename: never half a file.
Status write_atomically(const std::string& path, const std::string& data, fs::perms perms) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(ErrorCode::kIo, "cannot write " + tmp);
    out << data;
    out.flush();
    if (!out) return make_error(ErrorCode::kIo, "cannot write " + tmp);
  }
  std::error_code ec;
  fs::permissions(tmp, perms, fs::perm_options::replace, ec);
  if (FILE* f = std::fopen(tmp.c_str(), "r")) {
    fsync(fileno(f));
    std::fclose(f);
  }
  fs::rename(tmp, path, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot install " + path + ": " + ec.message());
  return {};
}

Status ensure_tls_dir(const Context& ctx) {
  std::error_code ec;
  fs::create_directories(tls_dir(ctx), ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot create " + tls_dir(ctx) + ": " + ec.message());
  return {};
}

}  // namespace

Status generate_default_certificate(const Context& ctx, const std::string& hostname, int days) {
  if (Status s = ensure_tls_dir(ctx); !s) return s;
  return tls::generate_self_signed(tls_dir(ctx) + "/cert.pem", tls_dir(ctx) + "/key.pem",
                                   hostname.empty() ? local_hostname() : hostname, days);
}

void add_cert_commands(CLI::App& app, Context& ctx) {
  CLI::App* cert = app.add_subcommand("cert", "Manage the TLS certificate (DATA/tls/cert.pem, key.pem)");
  cert->require_subcommand(1);

  auto hostname = std::make_shared<std::string>();
  auto days = std::make_shared<int>(kDefaultCertDays);
  CLI::App* gen = cert->add_subcommand("generate", "Create a new self-signed certificate");
  gen->add_option("--hostname", *hostname, "Host name for the certificate (default: this host's name)");
  gen->add_option("--days", *days, "Validity in days")->check(CLI::Range(1, 3650));
  gen->callback([&ctx, hostname, days] {
    ctx.action = [&ctx, hostname, days]() -> Status {
      if (Status s = generate_default_certificate(ctx, *hostname, *days); !s) return s;
      auto summary = tls::check_certificate(tls_dir(ctx) + "/cert.pem", tls_dir(ctx) + "/key.pem");
      if (!summary) return summary.error();
      ctx.done("generated self-signed certificate: " + *summary,
               {{"certificate", *summary}, {"cert", tls_dir(ctx) + "/cert.pem"}, {"key", tls_dir(ctx) + "/key.pem"}});
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
      if (Status s = ensure_tls_dir(ctx); !s) return s;
      // Key first: for a moment the daemon may see the new key with the old certificate, which
      // it rejects while keeping the old context; the certificate follows at once.
      if (Status s = write_atomically(tls_dir(ctx) + "/key.pem", *key_pem, fs::perms::owner_read | fs::perms::owner_write); !s) {
        return s;
      }
      if (Status s = write_atomically(tls_dir(ctx) + "/cert.pem", full,
                                      fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                          fs::perms::others_read);
          !s) {
        return s;
      }
      ctx.done("imported certificate: " + *summary, {{"certificate", *summary}});
      return {};
    };
  });

  CLI::App* show = cert->add_subcommand("show", "Describe the installed certificate");
  show->callback([&ctx] {
    ctx.action = [&ctx]() -> Status {
      auto summary = tls::check_certificate(tls_dir(ctx) + "/cert.pem", tls_dir(ctx) + "/key.pem");
      if (!summary) return summary.error();
      if (ctx.json) {
        print_json({{"certificate", *summary}, {"cert", tls_dir(ctx) + "/cert.pem"}, {"key", tls_dir(ctx) + "/key.pem"}});
      } else {
        print_line(*summary);
      }
      return {};
    };
  });
}

}  // namespace mailroom::cli
