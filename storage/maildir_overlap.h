// Whether two Maildir paths name the same directory or one lies inside the other, as the kernel
// resolves them (symlinks, ".", "..", repeated '/'): a Maildir belongs to one mailbox, or
// purging one would delete another's mail.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace mailroom::storage {

// Resolves paths like realpath(3), also when their end does not exist yet (that part is taken as
// written). Remembers every prefix it resolved, so resolving all the Maildirs of a data
// directory costs about one lstat() per path component not seen before (plain strings: with
// 100,000 mailboxes this runs once per Maildir on every add). One check's worth of memory: the
// answers go stale when the file system changes.
class PathResolver {
 public:
  // An absolute path without symlinks, ".", "..", repeated or trailing '/'. A relative `path` is
  // taken from the current directory.
  std::string resolve(std::string_view path);

 private:
  // `next` ("<resolved parent>/<name>") with a symlink at its end followed; "" stands for "/".
  static std::string resolve_one(const std::string& next);

  std::unordered_map<std::string, std::string> resolved_;  // "<resolved parent>/<name>" -> result
};

enum class Overlap {
  kSame,      // the same directory
  kInside,    // the first lies inside the second
  kContains,  // the second lies inside the first
};

// How two resolved paths relate; nullopt when neither contains the other. Compares whole
// components: /srv/alice does not contain /srv/alicex.
std::optional<Overlap> overlap(std::string_view a, std::string_view b);

}  // namespace mailroom::storage
