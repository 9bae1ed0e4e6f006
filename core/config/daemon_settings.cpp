// The daemon-wide settings catalog and its validators.
#include "core/config/daemon_settings.h"

#include <array>

#include "core/net/bind_spec.h"

namespace mailroom::config {

namespace {

constexpr std::array<std::string_view, 11> kFacilities = {"daemon", "mail",   "user",   "local0",
                                                          "local1", "local2", "local3", "local4",
                                                          "local5", "local6", "local7"};

SettingsCatalog build_catalog() {
  SettingsCatalog c;
  c.add(string_setting("log_target", "stderr", 1024,
                       "Where the daemon's own events (and those of services that do not set their own "
                       "'log_target') go: 'stderr', 'file:/absolute/path' (appended; reopened on SIGHUP "
                       "for log rotation) or 'syslog' / 'syslog:FACILITY' (daemon, mail, user, "
                       "local0-local7; default mail).",
                       check_log_target));
  c.add(string_setting("log_level", "info", kMaxLogWordLength,
                       "Least severe level logged: debug, info, warn or error (mailroomd --log-level "
                       "overrides it until the setting changes).",
                       check_log_level));
  c.add(string_setting("log_format", "kv", kMaxLogWordLength,
                       "Log line format: 'kv' (key=value pairs) or 'json' (one JSON object per line).",
                       check_log_format));
  c.add(string_setting("metrics_listen", "off", 300,
                       "OpenMetrics/Prometheus text endpoint (HTTP GET /metrics): 'off', 'on' (= " +
                           std::string(kDefaultMetricsListen) +
                           ", loopback only) or an address and port ('127.0.0.1:9154', '[::1]:9154'). "
                           "It has no authentication: keep it on loopback or a management network.",
                       check_metrics_listen));
  // Scale up (issue 19): core/loop/loop_pool.h; docs/scaling.md.
  c.add(int_setting("loops", 0, 0, 64,
                    "Event loops serving sessions: 0 = one per core (at least 1), at most 64. The main "
                    "loop accepts every connection, applies the IP lists, blocks and limits, and hands "
                    "each session to the loop with the fewest open sessions; 1 = everything on the main "
                    "loop. Read at start: a change takes effect at the next restart (docs/scaling.md)."));
  // Password policy (issue 17, poppassd): auth/password_policy.h reads it.
  c.add(int_setting("password_min_length", 8, 1, 1024,
                    "Shortest password (in octets) a password change accepts: poppassd's NEWPASS and 'mailctl "
                    "mailbox passwd' (unless --force). The policy also refuses the old password and the "
                    "mailbox's name (docs/poppassd.md)."));
  // ---- issue 17: the outbound relay (smarthost) ----
  c.add(string_setting("smarthost", "", 300,
                       "Where the relay sends queued outbound mail (XTND XMIT's remote recipients): "
                       "'host:port' ('smtp.example.net:587', '127.0.0.1:25', '[::1]:25'); empty = none "
                       "(nothing is attempted, and XTND XMIT refuses remote recipients).",
                       check_smarthost));
  c.add(string_setting("smarthost_tls", "starttls", 8,
                       "'starttls' (required: a smarthost that does not offer it is a temporary failure "
                       "and nothing is sent) or 'none' (plaintext; for a smarthost on loopback only).",
                       check_smarthost_tls));
  c.add(bool_setting("smarthost_tls_verify", true,
                     "Verify the smarthost's certificate (chain, host name or IP) against "
                     "'smarthost_ca_file' or the system store."));
  c.add(string_setting("smarthost_ca_file", "", 1024,
                       "PEM file of the certificates that sign the smarthost's certificate (absolute "
                       "path); empty = the system store.",
                       check_optional_absolute_path));
  c.add(string_setting("smarthost_user", "", 255,
                       "User name for AUTH PLAIN or LOGIN at the smarthost (empty = no AUTH). Sent only "
                       "over TLS, or with smarthost_tls none."));
  auto password = string_setting("smarthost_password", "", 255,
                                  "Password for smarthost_user. Stored encrypted (DATA/secrets.key); "
                                  "'show' prints only \"(set)\".");
  password.secret = true;
  c.add(std::move(password));
  c.add(int_setting("queue_lifetime", 432000, 60, 60L * 86400,
                    "Seconds a queued message is retried before its pending recipients fail and the "
                    "sender gets a bounce (default 5 days)."));
  c.add(int_setting("queue_retry_min", 60, 1, 86400,
                    "Seconds before the first retry after a temporary failure; doubled per attempt."));
  c.add(int_setting("queue_retry_max", 3600, 1, 7L * 86400,
                    "Longest wait between two attempts of one message, seconds."));
  c.add(int_setting("relay_timeout", 120, 1, 3600,
                    "Seconds the relay waits for the smarthost's connection, TLS handshake and each "
                    "reply (and for each block of the message to be sent)."));
  // ---- issue 18: password hash imports (auth/password_rehash.cpp reads it) ----
  c.add(bool_setting("rehash_on_login", true,
                     "After a successful password login (POP3 USER/PASS, SASL PLAIN or LOGIN, poppassd) "
                     "with an imported hash (bcrypt, {SSHA512}, SHA512-CRYPT, ...), store the default "
                     "argon2id hash of the password instead. Derived secrets stay; a password changed "
                     "meanwhile is kept."));
  // ---- issue 19: scale out (storage/mail_root.h reads it) ----
  c.add(string_setting("mail_root", "", 1024,
                       "Where new mailboxes get their Maildir (MAIL_ROOT/postoffice/mailbox/Maildir) unless "
                       "given one: an absolute path; empty = DATA/mail. In a cluster, the shared file "
                       "system's mount point, the same path on every node (docs/cluster-nodes.md); it must "
                       "exist when a mailbox is added. Changing it moves no Maildir: each mailbox keeps the "
                       "path stored with it.",
                       check_optional_absolute_path));
  // ---- issue 19: one POP3 session per mailbox across nodes (storage/lease/lease_keeper.h) ----
  c.add(int_setting("cluster_lease_seconds", 30, 5, 600,
                    "On PostgreSQL, how long a node's hold on a mailbox (its POP3 session's lease) lasts "
                    "unless renewed; the node renews its leases every third of it. The bound: after a node "
                    "dies (or loses the database) another node lets the mailbox's owner log in again at "
                    "most this many seconds later (and one more: times are whole seconds). Ignored on SQLite (one "
                    "daemon per database)."));
  return c;
}

}  // namespace

const SettingsCatalog& daemon_settings_catalog() {
  static const SettingsCatalog catalog = build_catalog();
  return catalog;
}

std::optional<std::string> check_log_target(std::string_view text) {
  if (text == "stderr" || text == "syslog") return std::nullopt;
  if (text.starts_with("file:")) {
    const std::string_view path = text.substr(5);
    if (path.empty() || path.front() != '/') return "file: needs an absolute path ('file:/var/log/mailroom.log')";
    if (path.back() == '/') return "file: must name a file, not a directory";
    return std::nullopt;
  }
  if (text.starts_with("syslog:")) {
    const std::string_view facility = text.substr(7);
    for (auto f : kFacilities) {
      if (facility == f) return std::nullopt;
    }
    return "unknown syslog facility '" + std::string(facility) + "' (daemon, mail, user, local0-local7)";
  }
  return "must be 'stderr', 'file:/absolute/path', 'syslog' or 'syslog:FACILITY'";
}

std::optional<std::string> check_log_level(std::string_view text) {
  if (text == "debug" || text == "info" || text == "warn" || text == "error") return std::nullopt;
  return "must be debug, info, warn or error";
}

std::optional<std::string> check_log_format(std::string_view text) {
  if (text == "kv" || text == "json") return std::nullopt;
  return "must be 'kv' or 'json'";
}

std::optional<std::string> check_smarthost(std::string_view text) {
  if (text.empty()) return std::nullopt;
  auto binds = net::parse_bind_list(text, 0);
  if (!binds) return binds.error().message;
  if (binds->size() != 1 || binds->front().is_unix() || binds->front().port == 0 ||
      binds->front().address == "*") {
    return "must be empty or one host and port ('smtp.example.net:587', '127.0.0.1:25', '[::1]:25')";
  }
  return std::nullopt;
}

std::optional<std::string> check_smarthost_tls(std::string_view text) {
  if (text == "starttls" || text == "none") return std::nullopt;
  return "must be 'starttls' or 'none'";
}

std::optional<std::string> check_optional_absolute_path(std::string_view text) {
  if (text.empty() || text.front() == '/') return std::nullopt;
  return "must be empty or an absolute path";
}

std::optional<std::string_view> metrics_listen_address(std::string_view setting) {
  if (setting == "off") return std::nullopt;
  if (setting == "on") return kDefaultMetricsListen;
  return setting;
}

std::optional<std::string> check_metrics_listen(std::string_view text) {
  if (text == "off" || text == "on") return std::nullopt;
  auto binds = net::parse_bind_list(text, 0);
  if (!binds) return binds.error().message;
  if (binds->size() != 1 || binds->front().is_unix() || binds->front().port == 0) {
    return "must be 'off', 'on' or one address with a port ('127.0.0.1:9154')";
  }
  return std::nullopt;
}

}  // namespace mailroom::config
