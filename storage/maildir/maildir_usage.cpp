// Maildir usage: the listing's count and wire octets, remembered while the folders are unchanged.
#include "storage/maildir/maildir_usage.h"

#include <time.h>

#include <mutex>
#include <unordered_map>

#include "storage/maildir/maildir_scan.h"

namespace mailroom::storage::maildir {

namespace {

// At most this many Maildirs remembered (~100 bytes each); past it the memory starts over.
constexpr std::size_t kMaxRemembered = 100000;

struct Remembered {
  FolderStamps stamps;
  MailboxUsage usage;
};

struct UsageCache {
  std::mutex mu;
  std::unordered_map<std::string, Remembered> by_dir;
};

UsageCache& cache() {
  static UsageCache c;
  return c;
}

}  // namespace

Result<MailboxUsage> maildir_usage(const std::string& dir, const StoreOptions& options) {
  // The clock before the stamps, the stamps before the listing: a change after this moment moves
  // the stamps, so what is remembered under them is never newer than they are (stamp_settled).
  timespec before{};
  ::clock_gettime(CLOCK_REALTIME_COARSE, &before);
  const std::optional<FolderStamps> stamps = read_folder_stamps(dir);
  UsageCache& c = cache();
  if (stamps) {
    std::lock_guard guard(c.mu);
    auto it = c.by_dir.find(dir);
    if (it != c.by_dir.end() && it->second.stamps == *stamps) return it->second.usage;
  }
  auto listing = list_maildir(dir, options);
  if (!listing) return listing.error();
  MailboxUsage usage;
  usage.messages = listing->size();
  for (const auto& m : *listing) usage.bytes += m.size;
  if (stamps && stamp_settled(stamps->new_dir, before, options.index_settle_time) &&
      stamp_settled(stamps->cur_dir, before, options.index_settle_time)) {
    std::lock_guard guard(c.mu);
    if (c.by_dir.size() >= kMaxRemembered) c.by_dir.clear();
    c.by_dir[dir] = Remembered{*stamps, usage};
  }
  return usage;
}

void forget_usage_cache() {
  UsageCache& c = cache();
  std::lock_guard guard(c.mu);
  c.by_dir.clear();
}

}  // namespace mailroom::storage::maildir
