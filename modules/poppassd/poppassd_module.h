// The poppassd module: creates one SessionAdapter per client.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "core/base/result.h"
#include "core/module/module.h"
#include "storage/account_store.h"

namespace mailroom::poppassd {

// The derived secret kinds the enabled services want (core::ModuleStores::wanted_secret_kinds).
using WantedSecretKinds = std::function<Result<std::set<std::string>>()>;

std::unique_ptr<core::Module> make_poppassd_module(storage::AccountStore& accounts, WantedSecretKinds wanted);

}  // namespace mailroom::poppassd
