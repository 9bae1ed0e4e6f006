// IP filter benchmark: verdict cost for 100, 10,000 and 100,000 deny rules (mixed single,
// CIDR and range, IPv4 and IPv6), to show that lookups grow with log n, not n.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/ipfilter/access_policy.h"
#include "core/ipfilter/range_set.h"

using namespace mailroom::ipfilter;
using BenchClock = std::chrono::steady_clock;

namespace {

constexpr int kLookups = 1'000'000;
constexpr int kRepeats = 5;
constexpr int kLinearLookups = 2'000;

std::string v4_text(uint32_t v) {
  return std::to_string(v >> 24) + "." + std::to_string((v >> 16) & 0xff) + "." + std::to_string((v >> 8) & 0xff) +
         "." + std::to_string(v & 0xff);
}

// One random rule in text form, the way an admin (or an imported block list) writes it.
std::string random_rule(std::mt19937_64& rng) {
  uint64_t r = rng();
  uint32_t a = static_cast<uint32_t>(rng());
  switch (r % 8) {
    case 0:
    case 1:
    case 2: return v4_text(a);                                                          // single
    case 3:
    case 4: {                                                                           // CIDR /16../31
      int len = 16 + static_cast<int>((r >> 8) % 16);
      return v4_text(a & (~uint32_t{0} << (32 - len))) + "/" + std::to_string(len);
    }
    case 5:
    case 6: return v4_text(a) + "-" + v4_text(a + static_cast<uint32_t>((r >> 8) % 5000));  // range
    default: {                                                                          // IPv6 /48../64
      char buf[64];
      std::snprintf(buf, sizeof buf, "2001:%x:%x:%x::/%d", static_cast<unsigned>((r >> 8) & 0xffff),
                    static_cast<unsigned>((r >> 24) & 0xffff), static_cast<unsigned>((r >> 40) & 0xffff),
                    48 + static_cast<int>((r >> 56) % 17));
      return buf;
    }
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  std::mt19937_64 rng(20240601);
  std::printf("%-8s %10s %10s %18s %18s %18s\n", "rules", "segments", "build ms", "check() ns/lookup",
              "RangeSet ns/find", "linear ns/lookup");
  uint64_t checksum = 0;
  for (std::size_t n : {std::size_t{100}, std::size_t{10'000}, std::size_t{100'000}}) {
    std::vector<AddressRule> rules;
    rules.reserve(n);
    while (rules.size() < n) {
      auto r = parse_address_rule(random_rule(rng));
      if (!r.ok()) {
        std::fprintf(stderr, "bench generated a bad rule: %s\n", r.error().message.c_str());
        return 1;
      }
      rules.push_back(std::move(r).value());
    }

    AccessPolicy policy;
    auto build_start = BenchClock::now();
    policy.set_rules(AccessList::kDeny, rules);
    double build_ms = std::chrono::duration<double, std::milli>(BenchClock::now() - build_start).count();

    // Half the probes fall inside some rule, half are random (mostly misses).
    std::vector<IpAddress> probes;
    probes.reserve(kLookups);
    for (int i = 0; i < kLookups; ++i) {
      if (i % 2 == 0) {
        const IpRange& range = rules[rng() % rules.size()].range;
        probes.push_back(range.first);
      } else {
        probes.push_back(IpAddress::from_v4(static_cast<uint32_t>(rng())));
      }
    }

    TimePoint now = TimePoint{} + std::chrono::hours(1);
    std::vector<double> per_lookup;
    for (int rep = 0; rep < kRepeats; ++rep) {
      auto start = BenchClock::now();
      for (const IpAddress& probe : probes) checksum += policy.check(probe, now).allowed() ? 1 : 0;
      auto ns = std::chrono::duration<double, std::nano>(BenchClock::now() - start).count();
      per_lookup.push_back(ns / kLookups);
    }

    // The lookup structure alone, without the policy around it.
    std::vector<RangeSet::Entry> entries;
    entries.reserve(rules.size());
    for (std::size_t i = 0; i < rules.size(); ++i) entries.push_back({rules[i].range, static_cast<uint32_t>(i)});
    RangeSet set(std::move(entries));
    std::vector<double> per_find;
    for (int rep = 0; rep < kRepeats; ++rep) {
      auto start = BenchClock::now();
      for (const IpAddress& probe : probes) checksum += set.find(probe).value_or(0);
      per_find.push_back(std::chrono::duration<double, std::nano>(BenchClock::now() - start).count() / kLookups);
    }

    // What a plain list of rules would cost: scan until the first match.
    auto linear_start = BenchClock::now();
    for (int i = 0; i < kLinearLookups; ++i) {
      const IpAddress& probe = probes[static_cast<std::size_t>(i)];
      for (const auto& r : rules) {
        if (r.range.contains(probe)) {
          ++checksum;
          break;
        }
      }
    }
    double linear_ns =
        std::chrono::duration<double, std::nano>(BenchClock::now() - linear_start).count() / kLinearLookups;

    std::printf("%-8zu %10zu %10.1f %18.1f %18.1f %18.1f\n", policy.rules(AccessList::kDeny).size(),
                set.segment_count(), build_ms, median(per_lookup), median(per_find), linear_ns);
  }
  std::printf("(median of %d runs of %d lookups each; linear scan over %d lookups; checksum %llu)\n", kRepeats,
              kLookups, kLinearLookups, static_cast<unsigned long long>(checksum));
  return 0;
}
