// The pop3 module: registers POP3 with the core and creates one SessionAdapter per client.
#pragma once

#include <memory>
#include <string>

#include "core/module/module.h"
#include "storage/account_store.h"
#include "storage/lease/lease_keeper.h"
#include "storage/mail_store.h"

namespace mailroom::pop3 {

// `data_dir`: the daemon's data directory; XTND XMIT queues remote mail in DATA/queue ("" keeps
// it in ./queue, for tests that never send). `leases`: the cluster-wide session leases taken with
// each login's maildrop lock (null: none, the daemon alone on its database).
std::unique_ptr<core::Module> make_pop3_module(storage::AccountStore& accounts, storage::MailStore& mail,
                                               const std::string& data_dir,
                                               std::shared_ptr<storage::LeaseKeeper> leases = nullptr);

}  // namespace mailroom::pop3
