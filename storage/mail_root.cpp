// The mail root: the mail_root daemon setting or DATA/mail.
#include "storage/mail_root.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mailroom::storage {

std::string effective_mail_root(const std::string& data_dir, const std::string& configured) {
  if (configured.empty()) return mail_root(data_dir);
  std::string root = std::filesystem::path(configured).lexically_normal().string();
  while (root.size() > 1 && root.back() == '/') root.pop_back();  // a prefix callers append "/" to
  return root;
}

std::string default_maildir_under(const std::string& mail_root, const Address& address) {
  return (std::filesystem::path(mail_root) / address.postoffice / address.mailbox / "Maildir").string();
}

Result<std::string> configured_mail_root(AccountStore& store, const std::string& data_dir) {
  auto settings = store.daemon_settings();
  if (!settings) return settings.error();
  auto it = settings->find("mail_root");
  return effective_mail_root(data_dir, it == settings->end() ? std::string() : it->second);
}

Status check_mail_root_present(const std::string& data_dir, const std::string& mail_root) {
  if (mail_root == storage::mail_root(data_dir)) return {};
  struct stat st {};
  if (::stat(mail_root.c_str(), &st) != 0) {
    return make_error(ErrorCode::kUnavailable, "the mail_root " + mail_root + " is not there (" + std::strerror(errno) +
                                                   "): is the shared file system mounted? Nothing was created");
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kUnavailable, "the mail_root " + mail_root + " is not a directory; nothing was created");
  }
  return {};
}

}  // namespace mailroom::storage
