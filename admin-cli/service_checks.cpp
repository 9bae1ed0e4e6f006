// Listener checks against the services as they would be stored (service_checks.h).
#include "admin-cli/service_checks.h"

#include <ifaddrs.h>

#include <memory>
#include <optional>
#include <string_view>

#include "admin-cli/output.h"
#include "admin-cli/service_lookup.h"
#include "admin-cli/settings_check.h"
#include "core/config/network_settings.h"
#include "core/config/tls_settings.h"
#include "core/ipfilter/ip_address.h"
#include "core/tls/certificate.h"
#include "daemon/builtin_modules.h"

namespace mailroom::cli {

namespace {

// Whether this machine has `address` (numeric): one of its interfaces' addresses, or loopback
// (all of 127.0.0.0/8 is local on Linux).
bool machine_has_address(std::string_view address) {
  auto wanted = ipfilter::IpAddress::parse(address);
  if (!wanted) return true;  // not ours to judge: the setting's own check parsed it
  if (wanted->is_v4() && (wanted->v4() >> 24) == 127) return true;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return true;  // cannot tell: no warning
  std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> owner(list, &::freeifaddrs);
  for (const ifaddrs* ifa = list; ifa != nullptr; ifa = ifa->ifa_next) {
    if (ifa->ifa_addr == nullptr) continue;
    auto have = ipfilter::IpAddress::from_sockaddr(ifa->ifa_addr);
    if (have && *have == *wanted) return true;
  }
  return false;
}

// The record's effective settings on this node (its local settings over the stored ones, as the
// daemon merges them), or nullopt for a module this build lacks.
std::optional<config::ServiceSettings> effective(const storage::ServiceRecord& record, const storage::NodeSettings& node) {
  const config::SettingsCatalog* catalog = builtin::settings_catalog(record.module);
  if (catalog == nullptr) return std::nullopt;
  storage::ServiceRecord merged = record;
  if (auto local = node.services.find(record.name); local != node.services.end()) {
    std::vector<std::string> unused;  // a bad local value is left out, as the daemon does
    merged.settings = storage::merge_node_settings(*catalog, record.name, record.settings, local->second, unused);
  }
  return ServiceView{merged, catalog}.effective();
}

}  // namespace

Status check_service_listeners(const std::string& data_dir, const std::vector<storage::ServiceRecord>& after,
                               const storage::NodeSettings& node, const std::string& name, const std::string& key) {
  std::optional<config::ServiceSettings> changed;
  SettingsCheckInput input;
  input.key = key;
  for (const auto& rec : after) {
    auto settings = effective(rec, node);
    if (!settings) continue;
    if (rec.name == name) {
      changed = *settings;
      input.changed = {rec.name, rec.enabled, config::network_settings_from(*settings)};
    } else {
      input.others.push_back({rec.name, rec.enabled, config::network_settings_from(*settings)});
    }
  }
  if (!changed) return {};
  input.certificate_problem = [&]() -> std::optional<std::string> {
    const tls::TlsConfig tls = config::tls_config_from(*changed, data_dir);
    auto ok = tls::check_certificate(tls.cert_file, tls.key_file);
    if (ok) return std::nullopt;
    return ok.error().message;
  };
  input.has_address = machine_has_address;
  const SettingsCheck result = check_settings(input);
  for (const auto& warning : result.warnings) print_error("warning: " + warning);
  if (result.errors.empty()) return {};
  std::string message;
  for (const auto& e : result.errors) message += (message.empty() ? "" : "; ") + e;
  return make_error(ErrorCode::kInvalidArgument, message);
}

}  // namespace mailroom::cli
