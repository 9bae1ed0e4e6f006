// A SessionLeases without a database for the LeaseKeeper's tests: every call succeeds while the
// shared `down` flag is off and fails like an unreachable database (kDatabase) while it is on.
// Counts the renewals it was asked for.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/lease/session_leases.h"

namespace mailroom::testing {

struct FakeSessionLeasesControl {
  std::atomic<bool> down{false};
  std::atomic<int> renewals{0};  // renew() calls, failed ones included
};

class FakeSessionLeases final : public storage::SessionLeases {
 public:
  FakeSessionLeases(std::string node, std::shared_ptr<FakeSessionLeasesControl> control)
      : node_(std::move(node)), control_(std::move(control)) {}
  const std::string& node() const override { return node_; }
  Result<bool> acquire(int64_t, int64_t, int64_t) override {
    if (control_->down) return away();
    return true;
  }
  Status release(int64_t) override {
    if (control_->down) return away();
    return {};
  }
  Result<int64_t> renew(int64_t, int64_t) override {
    ++control_->renewals;
    if (control_->down) return away();
    return 0;
  }

 private:
  static Error away() { return make_error(ErrorCode::kDatabase, "could not connect to the database server"); }
  std::string node_;
  std::shared_ptr<FakeSessionLeasesControl> control_;
};

}  // namespace mailroom::testing
