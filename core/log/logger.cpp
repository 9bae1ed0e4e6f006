// The logging entry points: everything goes through the process's LogRouter.
#include "core/log/logger.h"

#include "core/log/log_router.h"

namespace mailroom::log {

bool enabled(Level level) { return router().enabled(level); }

void event(Level level, std::string_view name, std::initializer_list<Field> fields) {
  if (!router().enabled(level)) return;
  router().emit(level, name, std::span<const Field>(fields.begin(), fields.size()));
}

}  // namespace mailroom::log
