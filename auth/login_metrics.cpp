// The logins family and its series.
#include "auth/login_metrics.h"

#include <algorithm>
#include <cctype>

namespace mailroom::auth {

namespace {
metrics::CounterFamily& logins_family() {
  static metrics::CounterFamily& f = metrics::process_registry().counter(
      "mailroom_logins", "Login attempts by mechanism and outcome.", {"service", "mechanism", "outcome"});
  return f;
}
}  // namespace

LoginMetrics::LoginMetrics(std::string service) : service_(std::move(service)), family_(logins_family()) {}

void LoginMetrics::count(std::string_view mechanism, std::string_view outcome) const {
  std::string mech(mechanism);
  std::transform(mech.begin(), mech.end(), mech.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  family_.with({service_, mech, outcome}).inc();
}

}  // namespace mailroom::auth
