// The POP3 families and one service's series.
#include "modules/pop3/pop3_metrics.h"

namespace mailroom::pop3 {

namespace {
metrics::CounterFamily& retrieved_family() {
  static metrics::CounterFamily& f = metrics::process_registry().counter(
      "mailroom_messages_retrieved", "Messages sent whole by RETR (POP3).", {"service"});
  return f;
}
metrics::CounterFamily& deleted_family() {
  static metrics::CounterFamily& f = metrics::process_registry().counter(
      "mailroom_messages_deleted", "Messages deleted by a committed POP3 UPDATE (QUIT).", {"service"});
  return f;
}
}  // namespace

Pop3Metrics::Pop3Metrics(const std::string& service)
    : retrieved(retrieved_family().with({service})), deleted(deleted_family().with({service})) {}

}  // namespace mailroom::pop3
