// Message files of a Maildir: message names, folders and message files opened without following
// a symlink out of the maildir, the listing by stem.
#include "storage/maildir/message_files.h"

#include <vector>

#include "storage/maildir/maildir_name.h"

namespace mailroom::storage::maildir {

namespace {

// The message files in DIR/SUBDIR (see for_each_message_file).
Result<std::vector<std::string>> list_messages(const std::string& dir, const std::string& subdir) {
  auto folder = open_folder(dir, subdir);
  if (!folder) return folder.error();
  std::vector<std::string> names;
  auto add = [&](std::string_view name) { names.emplace_back(name); };
  if (auto s = for_each_message_file(folder->get(), join(dir, subdir), add); !s) return s.error();
  return names;
}

}  // namespace

bool message_name_ok(std::string_view name) {
  return !name.empty() && name[0] != '.' && name.find_first_of(std::string_view("/\n\0", 3)) == std::string_view::npos;
}

Result<UniqueFd> open_folder(const std::string& dir, std::string_view sub) {
  std::string path = join(dir, std::string(sub));
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd.valid()) return fd;
  int err = errno;
  if (err == ENOENT) return make_error(ErrorCode::kNotFound, "cannot open " + path + ": " + errno_text(err));
  if (err == ELOOP || err == ENOTDIR) {
    return make_error(ErrorCode::kIo, "cannot open " + path + ": not a directory (a symbolic link?)");
  }
  return io_error("cannot open " + path, err);
}

Result<MessageFile> checked_message_file(UniqueFd fd, const std::string& path) {
  if (!fd.valid()) {
    int err = errno;
    if (err == ENOENT) return make_error(ErrorCode::kNotFound, "cannot open " + path + ": " + errno_text(err));
    if (err == ELOOP) return make_error(ErrorCode::kIo, "cannot open " + path + ": a symbolic link, not a message");
    return io_error("cannot open " + path, err);
  }
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat " + path, errno);
  if (!S_ISREG(st.st_mode)) return make_error(ErrorCode::kIo, "cannot open " + path + ": not a regular file");
  return MessageFile{std::move(fd), static_cast<uint64_t>(st.st_size)};
}

Result<MessageFile> open_message_file(int folder, std::string_view name, const std::string& path) {
  if (!message_name_ok(name)) return make_error(ErrorCode::kInvalidArgument, "not a message file: " + path);
  return checked_message_file(UniqueFd(::openat(folder, std::string(name).c_str(), kMessageOpenFlags)), path);
}

Result<std::map<std::string, std::string>> index_by_stem(const std::string& dir) {
  std::map<std::string, std::string> where;
  for (const char* sub : kMessageFolders) {
    auto names = list_messages(dir, sub);
    if (!names) return names.error();
    for (const auto& n : *names) where[std::string(name_stem(n))] = std::string(sub) + "/" + n;
  }
  return where;
}

}  // namespace mailroom::storage::maildir
