// Deletion intent: DIR/.mailroom-delete written durably under DIR/.mailroom-lock, then carried out.
#include "storage/maildir/deletion_intent.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string_view>
#include <vector>

#include "storage/maildir/fs_util.h"
#include "storage/maildir/maildir_name.h"
#include "storage/maildir/maildir_store.h"
#include "storage/maildir/message_files.h"
#include "storage/maildir/unique_fd.h"

namespace mailroom::storage::maildir {

namespace {

// A list of every message of a very large mailbox fits (~100 octets a name).
constexpr std::size_t kMaxIntentSize = std::size_t{1} << 30;

// Carries out DIR/.mailroom-delete if present: unlinks every listed message (wherever it moved),
// makes the unlinks durable, then drops the intent.
Status complete_deletion_intent(const std::string& dir) {
  std::string intent_path = join(dir, kDeleteIntentFile);
  auto text = read_regular_file(intent_path, kMaxIntentSize);
  if (!text) {
    // No intent: nothing was promised.
    struct stat st{};
    if (::stat(intent_path.c_str(), &st) != 0 && errno == ENOENT) return {};
    return text.error();
  }
  // Unlinks go through the folders' descriptors: a folder swapped for a symlink is refused here,
  // so a forged intent cannot delete anything outside the maildir.
  UniqueFd folders[2];
  for (int i = 0; i < 2; ++i) {
    auto folder = open_folder(dir, kMessageFolders[i]);
    if (!folder) return folder.error();
    folders[i] = std::move(folder).value();
  }
  auto folder_of = [&](std::string_view rel) { return folders[rel[0] == 'n' ? 0 : 1].get(); };
  std::vector<std::string> missing;
  std::string_view rest = *text;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    // Only "new/NAME" or "cur/NAME": a damaged intent must not unlink anything else.
    if (line.size() < 5 || (line.substr(0, 4) != "new/" && line.substr(0, 4) != "cur/")) continue;
    std::string_view name = line.substr(4);
    if (!message_name_ok(name)) continue;
    std::string path = join(dir, std::string(line));
    if (::unlinkat(folder_of(line), std::string(name).c_str(), 0) == 0) continue;
    if (errno != ENOENT) return io_error("cannot delete " + path, errno);
    missing.emplace_back(maildir::name_stem(name));
  }
  if (!missing.empty()) {
    auto where = index_by_stem(dir);
    if (!where) return where.error();
    for (const auto& stem : missing) {
      auto it = where->find(stem);
      if (it == where->end()) continue;  // already gone: that is the goal
      std::string path = join(dir, it->second);
      if (::unlinkat(folder_of(it->second), it->second.c_str() + 4, 0) != 0 && errno != ENOENT) {
        return io_error("cannot delete " + path, errno);
      }
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (::fsync(folders[i].get()) != 0) {
      return io_error("cannot fsync directory " + join(dir, kMessageFolders[i]), errno);
    }
  }
  if (::unlink(intent_path.c_str()) != 0 && errno != ENOENT) {
    return io_error("cannot remove " + intent_path, errno);
  }
  return fsync_dir(dir);
}

}  // namespace

// The update lock is held for one deletion: writing an intent and carrying it out. Sessions of
// one process never meet here (the lock registry in maildrop.cpp keeps one session per
// maildrop); it guards against another process sharing the maildir.
Status delete_with_intent(const std::string& dir, const std::string& list) {
  auto update_lock = lock_for_update(dir);
  if (!update_lock) return update_lock.error();
  // The intent is durable before the first unlink, so a crash half-way is finished by open().
  if (auto s = replace_file_durably(dir, kDeleteIntentFile, kDeleteIntentTmpFile, list); !s) return s;
  return complete_deletion_intent(dir);
}

Status finish_interrupted_deletion(const std::string& dir) {
  const std::string intent_path = join(dir, kDeleteIntentFile);
  const std::string tmp_path = join(dir, kDeleteIntentTmpFile);
  struct stat leftover{};
  const bool intent = ::stat(intent_path.c_str(), &leftover) == 0;
  if (!intent && errno != ENOENT) return io_error("cannot check " + intent_path, errno);
  const bool stale_tmp = ::lstat(tmp_path.c_str(), &leftover) == 0;
  if (intent || stale_tmp) {
    auto update_lock = lock_for_update(dir);
    if (!update_lock) return update_lock.error();
    if (intent) {
      if (auto s = complete_deletion_intent(dir); !s) return s.error();
    }
    // Best effort: the next delete_with_intent() clears the way itself.
    if (stale_tmp) ::unlink(tmp_path.c_str());
  }
  return {};
}

}  // namespace mailroom::storage::maildir
