// Settings every TLS-capable service has: the implicit TLS port, STARTTLS, the certificate and
// the protocol floor. Handled by the core (core/tls), the same for every module.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config/setting_spec.h"
#include "core/tls/tls_context.h"

namespace mailroom::config {

std::vector<SettingSpec> tls_setting_specs(int64_t default_tls_port);

// The TlsConfig of a service; relative certificate paths are taken from `data_dir`.
tls::TlsConfig tls_config_from(const ServiceSettings& settings, const std::string& data_dir);

}  // namespace mailroom::config
