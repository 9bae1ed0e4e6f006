// The Maildir DeliveryWriter (mail_store.h): streamed delivery into tmp/, committed into new/ of
// one or more maildirs, and the clean-up of tmp/ files a crash left behind.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "storage/mail_store.h"

namespace mailroom::storage::maildir {

// Bytes gathered before one write(): few system calls when SMTP hands over a line at a time,
// and the most a writer holds in memory beyond the chunk it was given.
inline constexpr std::size_t kDeliveryWriteChunk = 64 * 1024;

Result<std::unique_ptr<DeliveryWriter>> begin_delivery(const std::string& dir, const DeliveryLimits& limits);

Result<std::size_t> remove_stale_tmp(const std::string& dir, std::chrono::seconds min_age);

}  // namespace mailroom::storage::maildir
