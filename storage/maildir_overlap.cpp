// PathResolver and overlap(): component by component, with lstat() and the kernel's rule for
// ".." (the parent of where a symlink points, not of the link).
#include "storage/maildir_overlap.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

namespace mailroom::storage {

namespace {

// Whether `outer` is a proper ancestor of `inner` (both resolved).
bool strictly_inside(std::string_view inner, std::string_view outer) {
  if (outer == "/") return inner.size() > 1;
  return inner.size() > outer.size() && inner.substr(0, outer.size()) == outer && inner[outer.size()] == '/';
}

}  // namespace

std::string PathResolver::resolve(std::string_view path) {
  std::string absolute;
  if (path.empty() || path.front() != '/') {
    std::error_code ec;
    absolute = std::filesystem::absolute(std::filesystem::path(path), ec).string();
    if (ec) absolute = "/" + std::string(path);
    path = absolute;
  }
  // `out` never holds a symlink, ".", or "..": so ".." is simply its parent. "" stands for "/".
  std::string out;
  std::string next;
  size_t pos = 0;
  while (pos < path.size()) {
    const size_t end = std::min(path.find('/', pos), path.size());
    const std::string_view part = path.substr(pos, end - pos);
    pos = end + 1;
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      out.erase(std::min(out.rfind('/'), out.size()));
      continue;
    }
    next.assign(out).append("/").append(part);
    // The last component (a Maildir) is rarely a prefix of another path: looked up, not stored.
    const bool last = path.find_first_not_of('/', pos) == std::string_view::npos;
    if (auto it = resolved_.find(next); it != resolved_.end()) {
      out = it->second;
    } else if (last) {
      out = resolve_one(next);
    } else {
      out = resolved_.emplace(next, resolve_one(next)).first->second;
    }
  }
  return out.empty() ? "/" : out;
}

std::string PathResolver::resolve_one(const std::string& next) {
  struct stat st {};
  if (::lstat(next.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) {
    return next;  // a directory or file, or a name that does not exist (yet): taken as written
  }
  // The whole chain of links, by the library; a dangling link or a loop stays as written.
  std::error_code ec;
  std::string target = std::filesystem::weakly_canonical(next, ec).lexically_normal().string();
  if (ec) return next;
  while (target.size() > 1 && target.back() == '/') target.pop_back();
  return target == "/" ? "" : target;
}

std::optional<Overlap> overlap(std::string_view a, std::string_view b) {
  if (a == b) return Overlap::kSame;
  if (strictly_inside(a, b)) return Overlap::kInside;
  if (strictly_inside(b, a)) return Overlap::kContains;
  return std::nullopt;
}

}  // namespace mailroom::storage
