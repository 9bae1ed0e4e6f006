// A stored service with its module's settings catalog: the lookup every service-related
// mailctl command starts with (service, access, block).
#pragma once

#include <string>

#include "core/config/setting_spec.h"
#include "core/base/result.h"
#include "storage/account_store.h"

namespace mailroom::cli {

struct ServiceView {
  storage::ServiceRecord record;
  const config::SettingsCatalog* catalog = nullptr;

  // The effective settings: stored values over defaults. Tolerant, unlike the daemon: a stored
  // value the catalog rejects (only a hand-edited database has one) counts as its default here,
  // so read-only commands still work; 'service show' points such values out.
  config::ServiceSettings effective() const;
};

// kNotFound "unknown service 'x' (see 'mailctl service list')", or a module this build lacks.
Result<ServiceView> load_service(storage::AccountStore& store, const std::string& name);

// Deletes the stored plaintext equivalents that no service's settings ask for any more (a
// legacy mechanism was switched off); returns how many. Run after settings changed.
Result<int64_t> purge_unwanted_secrets(storage::AccountStore& store);

}  // namespace mailroom::cli
