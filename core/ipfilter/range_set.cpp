// RangeSet construction: a sweep over range boundaries keeping the covering rules ordered by
// width, so each elementary segment gets its most specific rule in O(log n).
#include "core/ipfilter/range_set.h"

#include <algorithm>
#include <set>
#include <utility>

namespace mailroom::ipfilter {

namespace {

// last - first as a (hi, lo) pair, which orders like the 128-bit width.
std::pair<uint64_t, uint64_t> width(const IpRange& r) {
  uint64_t lo = r.last.lo() - r.first.lo();
  uint64_t borrow = r.last.lo() < r.first.lo() ? 1 : 0;
  return {r.last.hi() - r.first.hi() - borrow, lo};
}

struct Active {
  std::pair<uint64_t, uint64_t> width;
  uint32_t tag;
  bool operator<(const Active& o) const { return width != o.width ? width < o.width : tag < o.tag; }
};

}  // namespace

void RangeSet::build(std::vector<Entry> entries) {
  firsts_.clear();
  lasts_.clear();
  tags_.clear();
  if (entries.empty()) return;

  // Every point where the set of covering rules can change.
  std::vector<IpAddress> points;
  points.reserve(entries.size() * 2);
  for (const auto& e : entries) {
    points.push_back(e.range.first);
    if (!e.range.last.is_max()) points.push_back(e.range.last.next());
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());

  std::vector<const Entry*> by_first;
  std::vector<const Entry*> by_last;
  by_first.reserve(entries.size());
  for (const auto& e : entries) by_first.push_back(&e);
  by_last = by_first;
  std::sort(by_first.begin(), by_first.end(),
            [](const Entry* a, const Entry* b) { return a->range.first < b->range.first; });
  std::sort(by_last.begin(), by_last.end(),
            [](const Entry* a, const Entry* b) { return a->range.last < b->range.last; });

  std::multiset<Active> active;  // multiset: tags need not be unique
  std::size_t next_start = 0;
  std::size_t next_end = 0;
  for (std::size_t k = 0; k < points.size(); ++k) {
    const IpAddress& p = points[k];
    while (next_end < by_last.size() && by_last[next_end]->range.last < p) {
      const Entry* e = by_last[next_end++];
      active.erase(active.find(Active{width(e->range), e->tag}));
    }
    while (next_start < by_first.size() && by_first[next_start]->range.first == p) {
      const Entry* e = by_first[next_start++];
      active.insert(Active{width(e->range), e->tag});
    }
    if (active.empty()) continue;
    IpAddress seg_last = k + 1 < points.size() ? points[k + 1].prev() : IpAddress::max();
    uint32_t tag = active.begin()->tag;
    if (!tags_.empty() && tags_.back() == tag && lasts_.back().next() == p) {
      lasts_.back() = seg_last;
    } else {
      firsts_.push_back(p);
      lasts_.push_back(seg_last);
      tags_.push_back(tag);
    }
  }
  firsts_.shrink_to_fit();
  lasts_.shrink_to_fit();
  tags_.shrink_to_fit();
}

std::optional<uint32_t> RangeSet::find(const IpAddress& address) const {
  auto it = std::upper_bound(firsts_.begin(), firsts_.end(), address);
  if (it == firsts_.begin()) return std::nullopt;
  std::size_t i = static_cast<std::size_t>(it - firsts_.begin()) - 1;
  if (address > lasts_[i]) return std::nullopt;
  return tags_[i];
}

}  // namespace mailroom::ipfilter
