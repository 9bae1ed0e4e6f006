// The pop3 module: registers POP3 with the core and creates one SessionAdapter per client.
#pragma once

#include <memory>

#include "core/module/module.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"

namespace mailroom::pop3 {

std::unique_ptr<core::Module> make_pop3_module(storage::AccountStore& accounts, storage::MailStore& mail);

}  // namespace mailroom::pop3
