// PathResolver and overlap(): component by component, with lstat() and the kernel's rule for
// ".." (the parent of where a symlink points, not of the link).
#include "storage/maildir_overlap.h"

#include <sys/stat.h>

#include <algorithm>
#include <system_error>

namespace mailroom::storage {

namespace fs = std::filesystem;

fs::path PathResolver::resolve(const fs::path& path) {
  std::error_code ec;
  const fs::path absolute = path.is_absolute() ? path : fs::absolute(path, ec);
  if (ec) return path.lexically_normal();
  // `out` never holds a symlink, ".", or "..": so ".." is simply its parent.
  fs::path out = absolute.root_path();
  for (const fs::path& part : absolute.relative_path()) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      out = out.parent_path();
      continue;
    }
    fs::path next = out / part;
    auto [it, fresh] = resolved_.try_emplace(next.native(), next);
    if (fresh) {
      struct stat st {};
      if (::lstat(next.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {
        // The whole chain of links, by the library; a dangling link or a loop stays as written.
        fs::path target = fs::weakly_canonical(next, ec);
        if (!ec) it->second = target.lexically_normal();
        ec.clear();
      }
      // A name that does not exist (yet) is taken as written, like everything after it.
    }
    out = it->second;
  }
  // weakly_canonical() keeps a trailing '/' of a path that does not exist: drop it.
  if (!out.has_filename() && out != out.root_path()) out = out.parent_path();
  return out;
}

std::optional<Overlap> overlap(const fs::path& a, const fs::path& b) {
  auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
  const bool a_done = ia == a.end();
  const bool b_done = ib == b.end();
  if (a_done && b_done) return Overlap::kSame;
  if (b_done) return Overlap::kInside;
  if (a_done) return Overlap::kContains;
  return std::nullopt;
}

}  // namespace mailroom::storage
