// The fixed replies of a module, per deadline.
#include "core/module/module_descriptor.h"

namespace mailroom::core {

const std::string& ModuleReplies::for_timeout(Timeout which) const {
  static const std::string kNone;
  switch (which) {
    case Timeout::kIdle: return idle_timeout;
    case Timeout::kCommand: return command_timeout;
    case Timeout::kLogin: return login_timeout;
    case Timeout::kHandshake: break;
  }
  return kNone;
}

}  // namespace mailroom::core
