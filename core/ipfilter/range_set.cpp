// RangeSet construction: a sweep over range boundaries keeping the covering rules ordered by
// width, so each elementary segment gets its most specific rule in O(log n). One sweep per
// address family, each cut to where that family's addresses are.
#include "core/ipfilter/range_set.h"

#include <algorithm>
#include <initializer_list>
#include <set>
#include <utility>

namespace mailroom::ipfilter {

namespace {

// Where IPv4 is stored: ::ffff:0:0/96. IPv6 addresses are everything else.
constexpr IpAddress kV4First = IpAddress::from_v4(0);
constexpr IpAddress kV4Last = IpAddress::from_v4(0xffffffffu);

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

struct Segment {
  IpAddress first;
  IpAddress last;
  uint32_t tag;
};

// Every elementary segment that `entries` cover, in address order, with the narrowest entry
// covering it (ties: the lowest tag). Widths are the entries' own, whatever part of them the
// caller keeps afterwards.
template <class Emit>
void sweep(std::vector<const RangeSet::Entry*> by_first, const Emit& emit) {
  using Entry = RangeSet::Entry;
  if (by_first.empty()) return;
  // Every point where the set of covering rules can change.
  std::vector<IpAddress> points;
  points.reserve(by_first.size() * 2);
  for (const Entry* e : by_first) {
    points.push_back(e->range.first);
    if (!e->range.last.is_max()) points.push_back(e->range.last.next());
  }
  std::sort(points.begin(), points.end());
  points.erase(std::unique(points.begin(), points.end()), points.end());

  std::vector<const Entry*> by_last = by_first;
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
    emit(Segment{p, k + 1 < points.size() ? points[k + 1].prev() : IpAddress::max(), active.begin()->tag});
  }
}

}  // namespace

void RangeSet::build(std::vector<Entry> entries) {
  firsts_.clear();
  lasts_.clear();
  tags_.clear();
  if (entries.empty()) return;

  // An entry competes only for addresses of its own family ("*" for both): an IPv4 address is
  // decided among the IPv4 entries (and "*"), cut to ::ffff:0:0/96; an IPv6 address among the
  // IPv6 ones, cut to the rest. So ::/0 or ::/64, whose span holds all of IPv4, decide no IPv4
  // address, and "*" still loses to a narrower rule of either family.
  std::vector<const Entry*> v4;
  std::vector<const Entry*> v6;
  for (const auto& e : entries) {
    if (e.range.both_families || e.range.is_v4()) v4.push_back(&e);
    if (e.range.both_families || !e.range.is_v4()) v6.push_back(&e);
  }
  std::vector<Segment> below;   // IPv6 below ::ffff:0:0/96
  std::vector<Segment> inside;  // IPv4
  std::vector<Segment> above;   // IPv6 above it
  sweep(std::move(v4), [&](Segment s) {
    s.first = std::max(s.first, kV4First);
    s.last = std::min(s.last, kV4Last);
    if (s.first <= s.last) inside.push_back(s);
  });
  sweep(std::move(v6), [&](const Segment& s) {
    if (s.first < kV4First) below.push_back({s.first, std::min(s.last, kV4First.prev()), s.tag});
    if (kV4Last < s.last) above.push_back({std::max(s.first, kV4Last.next()), s.last, s.tag});
  });

  for (const auto* part : {&below, &inside, &above}) {
    for (const Segment& s : *part) {
      if (!tags_.empty() && tags_.back() == s.tag && lasts_.back().next() == s.first) {
        lasts_.back() = s.last;
      } else {
        firsts_.push_back(s.first);
        lasts_.push_back(s.last);
        tags_.push_back(s.tag);
      }
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
