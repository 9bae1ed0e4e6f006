// Control socket client: connect (bounded), one request line, one reply line (bounded).
#include "admin-cli/control_client.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "storage/maildir/unique_fd.h"

namespace mailroom::cli {

namespace {

constexpr const char* kSocketFile = "run/control.sock";  // daemon/control_server.h
constexpr std::size_t kMaxReply = 64 << 20;  // a sessions list of ~200,000 sessions

Error not_running(const std::string& data_dir, const std::string& path, const char* why) {
  return make_error(ErrorCode::kUnavailable, "mailroomd is not running for " + data_dir + " (" + why + " " + path +
                                                 "; start it with 'mailroomd --data " + data_dir + "')");
}

}  // namespace

Result<nlohmann::ordered_json> control_request(const std::string& data_dir, const nlohmann::ordered_json& request,
                                               int timeout_seconds) {
  const std::string path = (std::filesystem::path(data_dir) / kSocketFile).string();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    return make_error(ErrorCode::kInvalidArgument, "the control socket path " + path + " is longer than " +
                                                       std::to_string(sizeof addr.sun_path - 1) + " bytes");
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  storage::UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return make_error(ErrorCode::kIo, std::string("socket: ") + std::strerror(errno));
  timeval tv{};
  tv.tv_sec = timeout_seconds;
  // Linux bounds a blocking connect() on a unix socket by the send timeout, and each read by the
  // receive timeout.
  ::setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  ::setsockopt(sock.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    if (err == ENOENT) return not_running(data_dir, path, "no control socket");
    if (err == ECONNREFUSED) return not_running(data_dir, path, "nothing listens on");
    if (err == EACCES || err == EPERM) {
      return make_error(ErrorCode::kPermanent, "cannot connect to " + path +
                                                   ": permission denied (run mailctl as the daemon's user or root)");
    }
    if (err == EAGAIN || err == EINPROGRESS) {
      return make_error(ErrorCode::kTemporary, "mailroomd did not accept a control connection within " +
                                                   std::to_string(timeout_seconds) + " s (" + path + ")");
    }
    return make_error(ErrorCode::kIo, "cannot connect to " + path + ": " + std::strerror(err));
  }
  std::string line = request.dump() + "\n";
  for (std::size_t sent = 0; sent < line.size();) {
    ssize_t n = ::send(sock.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return make_error(ErrorCode::kIo, std::string("sending to mailroomd: ") + std::strerror(errno));
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char buf[65536];
  while (reply.find('\n') == std::string::npos) {
    if (reply.size() > kMaxReply) return make_error(ErrorCode::kIo, "the reply of mailroomd is too long");
    ssize_t n = ::recv(sock.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return make_error(ErrorCode::kTemporary,
                        "mailroomd did not answer within " + std::to_string(timeout_seconds) + " s");
    }
    if (n < 0) return make_error(ErrorCode::kIo, std::string("reading from mailroomd: ") + std::strerror(errno));
    if (n == 0) return make_error(ErrorCode::kIo, "mailroomd closed the control connection without an answer");
    reply.append(buf, static_cast<std::size_t>(n));
  }
  reply.resize(reply.find('\n'));
  auto doc = nlohmann::ordered_json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("ok") || !doc["ok"].is_boolean()) {
    return make_error(ErrorCode::kIo, "mailroomd answered something that is not a control reply");
  }
  if (!doc["ok"].get<bool>()) {
    const std::string code = doc.value("code", std::string("internal"));
    return make_error(error_code_from_name(code).value_or(ErrorCode::kInternal),
                      doc.value("error", std::string("mailroomd refused the request")));
  }
  return doc;
}

}  // namespace mailroom::cli
