// The poppassd family and one service's series.
#include "modules/poppassd/poppassd_metrics.h"

namespace mailroom::poppassd {

namespace {
metrics::CounterFamily& changes_family() {
  static metrics::CounterFamily& f = metrics::process_registry().counter(
      "mailroom_password_changes", "Password changes through poppassd, by outcome.", {"service", "outcome"});
  return f;
}
}  // namespace

PoppassdMetrics::PoppassdMetrics(const std::string& service)
    : changed(changes_family().with({service, "changed"})),
      refused(changes_family().with({service, "refused"})),
      failed(changes_family().with({service, "failed"})) {}

}  // namespace mailroom::poppassd
