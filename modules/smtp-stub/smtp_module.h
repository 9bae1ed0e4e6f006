// The smtp/lmtp module instance: one SessionAdapter per client.
#pragma once

#include <memory>

#include "core/module/module.h"
#include "modules/smtp-stub/smtp_session.h"
#include "storage/account_store.h"
#include "storage/mail_store.h"

namespace mailroom::smtp {

std::unique_ptr<core::Module> make_smtp_module(Protocol protocol, storage::AccountStore& accounts,
                                               storage::MailStore& mail);

}  // namespace mailroom::smtp
