// Cross-setting checks before a service setting is stored (settings_check.h).
#include "admin-cli/settings_check.h"

#include <algorithm>
#include <set>

#include "core/ipfilter/address_rule.h"
#include "core/net/bind_spec.h"

namespace mailroom::cli {

namespace {

// One TCP listener a service would open, and the setting that gives its port.
struct Endpoint {
  net::BindSpec bind;
  std::string setting;  // port, alt_port, tls_port, or binds/tls_binds for an entry with its own port
  int listener = 0;     // 0 plain, 1 alternate, 2 implicit TLS: one list never collides with itself
};

bool is_one_of(const std::string& key, std::initializer_list<const char*> keys) {
  return std::any_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; });
}

// The entries of a bind list with the port each gets; an unparsable list (only a hand-edited
// database has one) gives none.
std::vector<Endpoint> list_endpoints(const std::string& binds, int port, const char* port_key, const char* binds_key,
                                     int listener) {
  std::vector<Endpoint> out;
  auto parsed = net::parse_bind_list(binds, 0);
  if (!parsed) return out;
  for (auto& spec : *parsed) {
    const bool own_port = spec.port != 0;
    if (!own_port) spec.port = port;
    out.push_back({spec, own_port ? binds_key : port_key, listener});
  }
  return out;
}

std::vector<Endpoint> endpoints(const config::NetworkSettings& n) {
  std::vector<Endpoint> out = list_endpoints(n.binds, n.port, "port", "binds", 0);
  if (n.alt_port > 0) {
    const std::size_t plain = out.size();
    for (std::size_t i = 0; i < plain; ++i) out.push_back({{out[i].bind.address, n.alt_port}, "alt_port", 1});
  }
  if (n.implicit_tls) {
    for (auto& e : list_endpoints(n.tls_binds, n.tls_port, "tls_port", "tls_binds", 2)) out.push_back(std::move(e));
  }
  return out;
}

std::string where(const Endpoint& a, const Endpoint& b) {
  const std::string& address = a.bind.address == "*" ? b.bind.address : a.bind.address;
  return "port " + std::to_string(a.bind.port) + (address == "*" ? "" : " on " + address);
}

void check_ports(const SettingsCheckInput& in, std::vector<std::string>& errors) {
  const CheckedService& svc = in.changed;
  const std::vector<Endpoint> mine = endpoints(svc.network);
  std::set<std::string> said;
  auto refuse = [&](std::string message) {
    if (said.insert(message).second) errors.push_back(std::move(message));
  };
  for (std::size_t i = 0; i < mine.size(); ++i) {
    for (std::size_t j = i + 1; j < mine.size(); ++j) {
      if (mine[i].listener == mine[j].listener || !net::binds_collide(mine[i].bind, mine[j].bind)) continue;
      refuse(where(mine[i], mine[j]) + " would be used twice by service " + svc.name + ": by its " +
             mine[i].setting + " and its " + mine[j].setting);
    }
  }
  if (!svc.enabled) return;  // a disabled service listens on nothing; enabling it checks again
  for (const auto& other : in.others) {
    if (!other.enabled || other.name == svc.name) continue;
    for (const auto& theirs : endpoints(other.network)) {
      for (const auto& e : mine) {
        if (!net::binds_collide(e.bind, theirs.bind)) continue;
        refuse(where(e, theirs) + " is already used by service " + other.name + " (its " + theirs.setting +
               "); service " + svc.name + " would listen there too (its " + e.setting + ")");
      }
    }
  }
}

void check_certificate(const SettingsCheckInput& in, std::vector<std::string>& errors) {
  const config::NetworkSettings& n = in.changed.network;
  if (!in.changed.enabled || !n.implicit_tls || !in.certificate_problem) return;
  auto tls = net::parse_bind_list(n.tls_binds, n.tls_port);
  if (!tls || tls->empty()) return;  // tls_binds none: no implicit TLS listener
  if (auto problem = in.certificate_problem()) {
    errors.push_back("service " + in.changed.name + " would listen for implicit TLS on port " +
                     std::to_string(tls->front().port) + ", but its certificate cannot be used: " + *problem +
                     " (create one with 'mailctl cert generate', or set implicit_tls off)");
  }
}

void check_addresses(const SettingsCheckInput& in, std::vector<std::string>& warnings) {
  if (!in.has_address) return;
  const config::NetworkSettings& n = in.changed.network;
  const std::string& list = in.key == "binds" ? n.binds : n.tls_binds;
  auto parsed = net::parse_bind_list(list, 1);
  if (!parsed) return;
  std::set<std::string> said;
  for (const auto& spec : *parsed) {
    if (spec.address == "*" || !spec.is_numeric() || !said.insert(spec.address).second) continue;
    if (!in.has_address(spec.address)) {
      warnings.push_back("this machine has no address " + spec.address + " (" + in.key + " of service " +
                         in.changed.name + "); stored anyway: the daemon reports that bind as failed until it has");
    }
  }
}

// A PROXY header is taken only from proxy_trusted: with nobody trusted every connection would be
// refused, so the pair is refused instead of a service that serves nobody.
void check_proxy(const SettingsCheckInput& in, std::vector<std::string>& errors) {
  const config::NetworkSettings& n = in.changed.network;
  if (!n.proxy_protocol) return;
  auto rules = ipfilter::parse_address_rules(n.proxy_trusted);
  if (rules && !rules->empty()) return;
  errors.push_back("service " + in.changed.name +
                   " would require a PROXY header from every client, but proxy_trusted names no load balancer, so "
                   "every connection would be refused: set proxy_trusted to the balancers' addresses first (mailctl "
                   "service set " + in.changed.name + " proxy_trusted 10.0.0.5), or set proxy_protocol off");
}

}  // namespace

SettingsCheck check_settings(const SettingsCheckInput& in) {
  SettingsCheck out;
  const bool enabling = in.key.empty();
  if (enabling || is_one_of(in.key, {"port", "binds", "alt_port", "implicit_tls", "tls_port", "tls_binds"})) {
    check_ports(in, out.errors);
  }
  if (enabling || is_one_of(in.key, {"implicit_tls", "tls_port", "tls_binds"})) {
    check_certificate(in, out.errors);
  } else if (is_one_of(in.key, {"cert", "key"})) {
    // Switching to a new pair takes two commands (cert, then key): the first leaves a mismatch
    // for a moment, so it is only a warning; the daemon keeps the certificate it serves until the
    // new pair can be used.
    std::vector<std::string> problems;
    check_certificate(in, problems);
    for (auto& p : problems) {
      out.warnings.push_back(p + "; stored anyway: the running daemon keeps its current certificate until the "
                                 "new cert and key can be used together");
    }
  }
  if (is_one_of(in.key, {"binds", "tls_binds"})) check_addresses(in, out.warnings);
  if (enabling || is_one_of(in.key, {"proxy_protocol", "proxy_trusted"})) check_proxy(in, out.errors);
  return out;
}

}  // namespace mailroom::cli
