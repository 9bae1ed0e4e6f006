// plan_expiry(): the EXPIRE decision at UPDATE.
#include "modules/pop3/expiry.h"

namespace mailroom::pop3 {

ExpiryPlan plan_expiry(const storage::Retrievals& before, const std::vector<storage::MessageInfo>& listing,
                       const std::vector<bool>& deleted, const std::vector<bool>& retrieved, int64_t now,
                       int64_t expire_days) {
  ExpiryPlan plan;
  const int64_t keep = expire_days * kSecondsPerDay;
  for (std::size_t i = 0; i < listing.size(); ++i) {
    if (i < deleted.size() && deleted[i]) continue;
    const std::string& uid = listing[i].uid;
    int64_t first = 0;
    if (auto it = before.find(uid); it != before.end()) {
      first = it->second;
    } else if (i < retrieved.size() && retrieved[i]) {
      first = now;
    } else {
      continue;  // never retrieved: kept, no clock running
    }
    if (now - first >= keep) {
      plan.expired.push_back(i);
    } else {
      plan.record.emplace(uid, first);
    }
  }
  return plan;
}

}  // namespace mailroom::pop3
