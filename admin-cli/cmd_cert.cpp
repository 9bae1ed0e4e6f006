// mailctl cert: the TLS certificate in DATA/tls/ (the default 'cert' and 'key' settings):
// generate a self-signed one, import a real one (validated before anything is replaced), show it.
// The running daemon notices replaced files within a second and reloads them.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "core/tls/tls_context.h"
#include "storage/secrets/private_file.h"

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

// DATA/tls holds the private key: created 0700 (mkdir's own mode, not a chmod afterwards).
Status ensure_tls_dir(const Context& ctx) {
  const std::string dir = tls_dir(ctx);
  if (::mkdir(dir.c_str(), 0700) == 0 || errno == EEXIST) return {};
  return make_error(ErrorCode::kIo, "cannot create " + dir + ": " + std::strerror(errno));
}

// Removes a scratch directory and what is left in it.
class ScratchDir {
 public:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

Status generate_default_certificate(const Context& ctx, const std::string& hostname, int days) {
  if (Status s = ensure_tls_dir(ctx); !s) return s;
  // generate_self_signed() writes "<name>.tmp" files and renames them: it does so in a fresh
  // directory of ours (mkdtemp: 0700, unguessable), so the key never lands in a file that
  // someone else made or holds open. Then each file moves into place, key first, as import does.
  std::string scratch_template = tls_dir(ctx) + "/.generate-XXXXXX";
  if (::mkdtemp(scratch_template.data()) == nullptr) {
    return make_error(ErrorCode::kIo, "cannot create a directory in " + tls_dir(ctx) + ": " + std::strerror(errno));
  }
  ScratchDir scratch(scratch_template);
  const std::string cert = scratch.path() + "/cert.pem", key = scratch.path() + "/key.pem";
  if (Status s = tls::generate_self_signed(cert, key, hostname.empty() ? local_hostname() : hostname, days); !s) {
    return s;
  }
  // The key is 0600 from its open(); the certificate is public, whatever the umask made it.
  if (::chmod(cert.c_str(), 0644) != 0) {
    return make_error(ErrorCode::kIo, "cannot set the mode of " + cert + ": " + std::strerror(errno));
  }
  for (const char* name : {"/key.pem", "/cert.pem"}) {
    if (std::rename((scratch.path() + name).c_str(), (tls_dir(ctx) + name).c_str()) != 0) {
      return make_error(ErrorCode::kIo, "cannot install " + tls_dir(ctx) + name + ": " + std::strerror(errno));
    }
  }
  return {};
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
      // Key first: for a moment the daemon may see the new key with the old certificate, which
      // it rejects while keeping the old context; the certificate follows at once.
      // The key's file is 0600 from the moment it exists (storage/secrets/private_file.h).
      if (Status s = storage::write_file_atomically(tls_dir(ctx) + "/key.pem", *key_pem, 0600); !s) return s;
      if (Status s = storage::write_file_atomically(tls_dir(ctx) + "/cert.pem", full, 0644); !s) return s;
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
