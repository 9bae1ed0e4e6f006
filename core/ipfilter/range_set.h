// RangeSet: the IP filter's lookup structure. Rules (possibly overlapping) are flattened once
// into sorted, disjoint segments, each naming the one rule that decides it; a lookup is a
// binary search, O(log n), whatever the number of rules. Families are kept apart when the
// segments are built (an entry applies to its own family, see IpRange), so the lookup itself
// needs no family check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/ipfilter/address_rule.h"
#include "core/ipfilter/ip_address.h"

namespace mailroom::ipfilter {

class RangeSet {
 public:
  struct Entry {
    IpRange range;
    uint32_t tag = 0;  // caller's rule index
  };

  RangeSet() = default;
  explicit RangeSet(std::vector<Entry> entries) { build(std::move(entries)); }

  // Replaces the content; O(n log n). Where rules overlap, the narrowest range decides (the
  // most specific rule is the best explanation), ties going to the lowest tag; only entries of
  // an address's own family compete for it. Adjacent segments decided by the same tag are
  // merged.
  void build(std::vector<Entry> entries);

  // The tag of the rule deciding `address`, or nullopt when no rule covers it.
  std::optional<uint32_t> find(const IpAddress& address) const;

  bool empty() const { return firsts_.empty(); }
  std::size_t segment_count() const { return firsts_.size(); }

 private:
  // Struct of arrays: the binary search touches only `firsts_`.
  std::vector<IpAddress> firsts_;
  std::vector<IpAddress> lasts_;
  std::vector<uint32_t> tags_;
};

}  // namespace mailroom::ipfilter
