// HammerGuard: anti-hammering (login failures within a window block the client for a while,
// and each failure delays the next reply) and the temporary deny list used by auto-deny.
// Pure state: the caller passes `now`, so tests drive time by hand.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/ipfilter/address_rule.h"
#include "core/ipfilter/ip_address.h"

namespace mailroom::ipfilter {

// Steady time: blocks must not jump with the wall clock. Display code converts with its own now.
using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;

struct HammerSettings {
  int max_login_failures = 5;                  // failures within the window that start a block; 0 = never block
  std::chrono::seconds failure_window{300};
  std::chrono::seconds block_duration{900};    // 0 = until lifted or restart
  int ipv6_failure_prefix = 64;                // IPv6 clients are counted per /N (1-128); IPv4 per address
  std::chrono::milliseconds failure_delay{500};      // delay after the 2nd failure, doubled after each further one
  std::chrono::milliseconds max_failure_delay{4000};
  std::size_t max_tracked = 10000;             // cap on failure records, and separately on blocks; oldest evicted
};

enum class BlockCause {
  kLoginFailures,  // max_login_failures within failure_window
  kAutoDeny,       // e.g. a command line longer than max_command_length
  kManual,         // placed by the admin
};

const char* block_cause_name(BlockCause cause);
// The inverse of block_cause_name; an unknown name (a hand-edited row) reads as kManual.
BlockCause parse_block_cause(std::string_view name);

struct Block {
  IpAddress network;  // the blocked address, or the IPv6 prefix's first address
  int prefix = 128;   // in the 128-bit space (an IPv4 address is /128)
  BlockCause cause = BlockCause::kLoginFailures;
  std::string reason;                // for humans: "5 login failures within 300 s"
  TimePoint since{};
  std::optional<TimePoint> expires;  // nullopt: until lifted or restart
  uint64_t hits = 0;                 // connections refused by this block
  std::optional<TimePoint> last_hit;

  std::string key_text() const { return prefix_text(network, prefix); }
  bool active_at(TimePoint now) const { return !expires || now < *expires; }
  // Same family only: the IPv6 block ::/64 does not contain ::ffff:127.0.0.1 (IPv4).
  bool contains(const IpAddress& a) const { return prefix_fits_family(a, prefix) && a.masked(prefix) == network; }
};

struct FailureOutcome {
  int failures = 0;                    // in the window, this one included
  bool blocked = false;                // this failure started a block
  bool while_blocked = false;          // the key was blocked already: counted, block unchanged
  std::chrono::milliseconds delay{0};  // wait this long before the next reply
};

class HammerGuard {
 public:
  explicit HammerGuard(HammerSettings settings = {});

  // Keeps blocks (each remembers its own prefix). Failure records are dropped when the IPv6
  // prefix changes, since their keys no longer mean the same clients.
  void configure(HammerSettings settings);
  const HammerSettings& settings() const { return settings_; }

  // What an address is counted under: an IPv4 address itself, an IPv6 address its /N prefix.
  int key_prefix(const IpAddress& ip) const;
  IpAddress key_for(const IpAddress& ip) const { return ip.masked(key_prefix(ip)); }

  // Counts a failed login. Delay: none after the 1st failure in the window, then
  // failure_delay, doubling, capped at max_failure_delay. Reaching max_login_failures blocks
  // the key for block_duration and clears its failure record. A failure while the key is blocked
  // (a check that was running when the block began) neither starts nor extends a block.
  FailureOutcome record_failure(const IpAddress& ip, TimePoint now);
  // A successful login forgets the failures (it does not lift a block).
  void record_success(const IpAddress& ip);
  int failures(const IpAddress& ip, TimePoint now) const;

  // Temporary deny entry (auto-deny, or manual): `duration` nullopt = until lifted or restart.
  // An existing block of the same key is extended, never shortened.
  const Block& deny_temporarily(const IpAddress& ip, TimePoint now, std::optional<std::chrono::seconds> duration,
                                BlockCause cause, std::string reason);

  // The unexpired block covering `ip`, if any. `hit` also counts a refused connection.
  const Block* find_block(const IpAddress& ip, TimePoint now) const;
  bool is_blocked(const IpAddress& ip, TimePoint now) const { return find_block(ip, now) != nullptr; }
  const Block* hit(const IpAddress& ip, TimePoint now);

  // Replaces the blocks with `stored` (e.g. reloaded from the database after an admin change),
  // except those current blocks for which `keep` says true (placed but not stored yet). A block
  // present on both sides keeps the larger hit counter and the later last hit.
  void replace_blocks(std::vector<Block> stored, const std::function<bool(const Block&)>& keep);

  // Unexpired blocks, ordered by address.
  std::vector<Block> blocks(TimePoint now) const;
  // Lifts every block covering `ip` and forgets its failures; returns the number of blocks lifted.
  std::size_t lift(const IpAddress& ip);
  void clear();
  // Drops expired blocks and failure records with no failure inside the window.
  void expire(TimePoint now);

  std::size_t tracked_addresses() const { return failures_.size(); }
  std::size_t block_count() const { return blocks_.size(); }

 private:
  struct FailureRecord {
    std::vector<TimePoint> times;  // oldest first, all within the window when last pruned
    std::list<IpAddress>::iterator lru;
  };
  using BlockKey = std::pair<IpAddress, int>;

  void prune(std::vector<TimePoint>& times, TimePoint now) const;
  std::chrono::milliseconds delay_for(int failures) const;
  Block& insert_block(const IpAddress& network, int prefix, TimePoint now);
  void erase_block(std::map<BlockKey, Block>::iterator it);
  std::map<BlockKey, Block>::iterator find_block_it(const IpAddress& ip);

  HammerSettings settings_;
  std::unordered_map<IpAddress, FailureRecord, IpAddress::Hash> failures_;
  std::list<IpAddress> lru_;  // failure keys, least recently failed first
  std::map<BlockKey, Block> blocks_;
  std::map<int, std::size_t> block_prefixes_;  // prefix length -> blocks using it (usually one or two)
};

}  // namespace mailroom::ipfilter
