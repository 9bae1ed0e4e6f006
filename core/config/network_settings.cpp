// Declarations of the core's per-service network settings.
#include "core/config/network_settings.h"

#include "core/ipfilter/access_policy.h"
#include "core/ipfilter/address_rule.h"
#include "core/net/proxy_header.h"
#include "core/net/bind_spec.h"

namespace mailroom::config {

std::vector<SettingSpec> network_setting_specs(int64_t default_port) {
  std::vector<SettingSpec> specs;
  specs.push_back(int_setting("port", default_port, 1, 65535,
                              "TCP port the service listens on (for binds that name no port of their own)."));
  specs.push_back(string_setting(
      "binds", "*", 4096,
      "Addresses to listen on, separated by ',' or ';': '*' (all IPv4 and IPv6 addresses), an IPv4 "
      "or IPv6 address or a host name (resolved when the setting is applied), each optionally followed "
      "by a space and a port ('127.0.0.1 1110', '[::1]:1110', 'localhost 1110'). Entries without a port "
      "use 'port'. 'none': no TCP listener (a service reached only through 'unix_socket').",
      net::check_bind_list));
  specs.push_back(int_setting("alt_port", 0, 0, 65535,
                              "Alternate TCP port, opened on every address of 'binds' besides its own port, for "
                              "clients whose provider blocks the standard one; 0 = none."));
  specs.push_back(string_setting(
      "unix_socket", "", 107,
      "Path of a unix-domain socket to listen on besides 'binds' (for local clients, e.g. an MTA "
      "delivering by LMTP); relative to the data directory; empty = none. A stale socket file left "
      "by a dead daemon is replaced; any other file there is an error and left alone. The file is "
      "removed when the listener closes. Its clients are not subject to the IP lists, "
      "anti-hammering, auto-deny or per-address limits: access is by the file's permissions.",
      [](std::string_view v) -> std::optional<std::string> {
        if (!v.empty() && v.back() == '/') return "must name a file, not a directory";
        return std::nullopt;
      }));
  specs.push_back(string_setting(
      "unix_socket_mode", "0660", 4,
      "Permissions of the 'unix_socket' file, in octal (0660: owner and group may connect; 0666: "
      "every local user).",
      [](std::string_view v) -> std::optional<std::string> {
        if (parse_socket_mode(v)) return std::nullopt;
        return "must be an octal mode from 000 to 0777, such as 0660";
      }));
  specs.push_back(int_setting("idle_timeout", 600, 1, 86400,
                              "Seconds a connection may stay silent before it is closed."));
  specs.push_back(int_setting("command_timeout", 60, 1, 86400,
                              "Seconds a command line may take to arrive, from its first byte to its line end; "
                              "a client that dribbles a line slower than that is closed (slowloris). Unlike "
                              "'idle_timeout', bytes arriving do not restart it."));
  specs.push_back(int_setting("login_timeout", 60, 0, 86400,
                              "Seconds from connecting by which a client must have logged in, whatever it sends "
                              "meanwhile; then it is closed. 0 = no limit."));
  specs.push_back(int_setting("handshake_timeout", 30, 1, 3600,
                              "Seconds a TLS handshake (implicit TLS, or after the in-protocol upgrade) may "
                              "take before the connection is dropped."));
  specs.push_back(int_setting("login_checks", 3, 1, 1000,
                              "Password checks that may run at once for the whole service; further logins wait, "
                              "the address with the fewest checks started first, so an address guessing in "
                              "bursts delays another address's login by one of its checks at most, not by its "
                              "whole queue. Kept below the daemon's 4 worker threads, so mail work does not "
                              "wait behind password hashes."));
  specs.push_back(int_setting("login_checks_per_ip", 4, 1, 1000,
                              "Password checks that may run at once for one client address (IPv6: per "
                              "'ipv6_failure_prefix' network); further logins from it wait their turn. With "
                              "anti-hammering on, fewer run when the address is near 'max_login_failures', so "
                              "parallel connections cannot try more passwords than one connection could."));
  specs.push_back(int_setting("max_command_length", 512, 64, 65536,
                              "Longest accepted command line in bytes, CRLF included; a longer line is "
                              "refused and discarded, and triggers 'auto_deny'."));
  specs.push_back(int_setting("max_connections", 200, 1, 1000000,
                              "Concurrent connections the service accepts; over it a client gets a "
                              "temporary-failure reply and is closed."));
  specs.push_back(int_setting("max_connections_per_ip", 50, 0, 1000000,
                              "Concurrent connections accepted from one client address (IPv6: per "
                              "'ipv6_failure_prefix' network); over it a client gets a temporary-failure reply "
                              "and is closed. 0 = no limit."));
  specs.push_back(string_setting(
      "access_mode", "deny", 16,
      "How the IP lists decide: 'deny' lets everyone in except the deny list; 'allow_only' lets nobody in "
      "except the allow list. The safe list overrules the deny list in both modes (see mailctl access).",
      [](std::string_view v) -> std::optional<std::string> {
        if (ipfilter::parse_access_mode(v)) return std::nullopt;
        return "must be 'deny' or 'allow_only'";
      }));
  specs.push_back(int_setting("max_login_failures", 5, 0, 1000,
                              "Failed logins from one client address within 'failure_window' that block it "
                              "for 'block_duration' (anti-hammering); 0 = never block."));
  specs.push_back(int_setting("failure_window", 300, 1, 86400,
                              "Seconds over which failed logins are counted for 'max_login_failures'."));
  specs.push_back(int_setting("block_duration", 900, 0, 31536000,
                              "Seconds an anti-hammering block lasts; 0 = until lifted with 'mailctl block "
                              "remove' or the daemon restarts."));
  specs.push_back(int_setting("ipv6_failure_prefix", 64, 1, 128,
                              "IPv6 clients are counted (for failures, blocks and max_connections_per_ip) per "
                              "network of this prefix length, so rotating addresses within it does not help."));
  specs.push_back(int_setting("failure_delay", 500, 0, 10000,
                              "Milliseconds the reply to the second failed login in a row is delayed; doubled "
                              "after each further failure, up to 'max_failure_delay'. 0 = no delay."));
  specs.push_back(int_setting("max_failure_delay", 4000, 0, 60000,
                              "Upper bound in milliseconds of the growing failed-login delay."));
  specs.push_back(bool_setting("auto_deny", true,
                               "A command line longer than 'max_command_length' puts the client address on the "
                               "temporary deny list and closes the connection (off: the line is only refused)."));
  specs.push_back(int_setting("auto_deny_duration", 0, 0, 31536000,
                              "Seconds an auto-deny entry lasts; 0 = until lifted or the daemon restarts."));
  specs.push_back(bool_setting(
      "proxy_protocol", false,
      "Every TCP connection must start with a PROXY protocol header (v1 text or v2 binary, detected "
      "automatically, as HAProxy's send-proxy / send-proxy-v2 send it) from an address in 'proxy_trusted'; the "
      "client address it names then drives the IP lists, anti-hammering, auto-deny, per-address limits, the "
      "logs and the session list. On implicit TLS listeners the header comes before the TLS handshake. A "
      "connection from another address, without a header, with a malformed one, or whose header is not complete "
      "within 'proxy_timeout' is closed before anything is sent. Unix socket clients are not affected. See "
      "docs/proxy-protocol.md."));
  specs.push_back(string_setting(
      "proxy_trusted", "", 4096,
      "The load balancers allowed to send a PROXY header (with 'proxy_protocol' on): addresses in the syntax "
      "of the IP lists ('10.0.0.5', '10.0.0.0/24', '10.0.0.1-10.0.0.9', '2001:db8::/64'), separated by ',' or "
      "';'. Empty: nobody, so mailctl refuses 'proxy_protocol' on while this is empty.",
      [](std::string_view v) -> std::optional<std::string> {
        auto rules = ipfilter::parse_address_rules(v);
        if (!rules) return rules.error().message;
        return std::nullopt;
      }));
  specs.push_back(int_setting("proxy_timeout", 10, 1, 3600,
                              "Seconds from connecting by which the whole PROXY header must have arrived (with "
                              "'proxy_protocol' on); a balancer that sends it later is closed."));
  specs.push_back(int_setting("proxy_max_header", 1024, 128, static_cast<int64_t>(net::kProxyHeaderAbsoluteMax),
                              "Largest PROXY v2 header accepted, in octets (addresses and TLVs; the protocol "
                              "allows 65551). HAProxy's addresses with its TLVs (ALPN, SNI, TLS details, a "
                              "unique id) fit in 1024; a larger header is refused. v1 headers are at most 107 "
                              "octets whatever this says."));
  specs.push_back(int_setting("output_buffer_size", 262144, 4096, 67108864,
                              "Bytes of queued output per connection above which the server stops producing "
                              "more (back-pressure) until the client reads."));
  return specs;
}

const std::vector<std::string>& node_local_setting_keys() {
  static const std::vector<std::string> keys = {"port", "alt_port", "binds", "tls_port", "tls_binds"};
  return keys;
}

std::optional<unsigned> parse_socket_mode(std::string_view text) {
  if (text.size() < 3 || text.size() > 4) return std::nullopt;
  unsigned mode = 0;
  for (char c : text) {
    if (c < '0' || c > '7') return std::nullopt;
    mode = mode * 8 + static_cast<unsigned>(c - '0');
  }
  if (mode > 0777) return std::nullopt;
  return mode;
}

NetworkSettings network_settings_from(const ServiceSettings& settings) {
  auto seconds = [&settings](std::string_view key) { return std::chrono::seconds(settings.get_int(key)); };
  auto count = [&settings](std::string_view key) { return static_cast<std::size_t>(settings.get_int(key)); };
  auto small = [&settings](std::string_view key) { return static_cast<int>(settings.get_int(key)); };  // bounded
  NetworkSettings n;
  n.port = small("port");
  n.binds = settings.get_string("binds");
  n.alt_port = small("alt_port");
  n.unix_socket = settings.get_string("unix_socket");
  n.unix_socket_mode = parse_socket_mode(settings.get_string("unix_socket_mode")).value_or(0660);
  n.implicit_tls = settings.get_bool("implicit_tls");
  n.tls_port = small("tls_port");
  n.tls_binds = settings.get_string("tls_binds");
  n.idle_timeout = seconds("idle_timeout");
  n.command_timeout = seconds("command_timeout");
  n.login_timeout = seconds("login_timeout");
  n.handshake_timeout = seconds("handshake_timeout");
  n.max_command_length = count("max_command_length");
  n.output_buffer_size = count("output_buffer_size");
  n.max_connections = count("max_connections");
  n.max_connections_per_ip = count("max_connections_per_ip");
  n.login_checks = small("login_checks");
  n.login_checks_per_ip = small("login_checks_per_ip");
  n.access_mode = ipfilter::parse_access_mode(settings.get_string("access_mode")).value_or(ipfilter::AccessMode::kDeny);
  n.hammer.max_login_failures = small("max_login_failures");
  n.hammer.failure_window = seconds("failure_window");
  n.hammer.block_duration = seconds("block_duration");
  n.hammer.ipv6_failure_prefix = small("ipv6_failure_prefix");
  n.hammer.failure_delay = std::chrono::milliseconds(settings.get_int("failure_delay"));
  n.hammer.max_failure_delay = std::chrono::milliseconds(settings.get_int("max_failure_delay"));
  n.proxy_protocol = settings.get_bool("proxy_protocol");
  n.proxy_trusted = settings.get_string("proxy_trusted");
  n.proxy_timeout = seconds("proxy_timeout");
  n.proxy_max_header = count("proxy_max_header");
  n.auto_deny = settings.get_bool("auto_deny");
  if (auto d = seconds("auto_deny_duration"); d.count() > 0) n.auto_deny_duration = d;
  return n;
}

}  // namespace mailroom::config
