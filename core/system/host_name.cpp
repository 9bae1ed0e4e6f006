// gethostname() with a usable fallback.
#include "core/system/host_name.h"

#include <unistd.h>

namespace mailroom::core {

std::string system_host_name() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  std::string name(buf);
  for (unsigned char c : name) {
    if (c <= ' ' || c >= 0x7f) return "localhost";
  }
  return name;
}

}  // namespace mailroom::core
