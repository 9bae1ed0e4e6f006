// The smtp and lmtp modules' own settings (one engine, one list; a few defaults differ).
#pragma once

#include <vector>

#include "core/config/setting_spec.h"
#include "modules/smtp-stub/smtp_session.h"

namespace mailroom::smtp {

std::vector<config::SettingSpec> smtp_setting_specs(Protocol protocol);


}  // namespace mailroom::smtp
