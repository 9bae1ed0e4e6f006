// mailctl deliver ADDRESS < message: local delivery of one message into a mailbox's Maildir
// (atomic tmp/ -> new/ through the MailStore), e.g. for tests and for importing mail.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "admin-cli/commands.h"
#include "storage/address.h"
#include "storage/mail_store.h"

namespace mailroom::cli {

namespace {

// The largest message deliver accepts; the whole message is held in memory once.
inline constexpr std::size_t kMaxDeliverBytes = 64 * 1024 * 1024;

// Reads all of stdin, failing as soon as it exceeds kMaxDeliverBytes.
Result<std::string> read_stdin() {
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return make_error(ErrorCode::kIo, std::string("cannot read the message from stdin: ") + std::strerror(errno));
    }
    if (n == 0) break;
    if (data.size() + static_cast<std::size_t>(n) > kMaxDeliverBytes) {
      return make_error(ErrorCode::kInvalidArgument,
                        "message is larger than the limit of " + std::to_string(kMaxDeliverBytes) +
                            " bytes (64 MiB)");
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

// Maildir stores messages with bare LF line ends; POP3 turns them back into CRLF on the wire.
std::string crlf_to_lf(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' && i + 1 < in.size() && in[i + 1] == '\n') continue;
    out.push_back(in[i]);
  }
  return out;
}

Status run_deliver(const Context& ctx, const std::string& raw) {
  auto address = storage::parse_address(raw);
  if (!address) return address.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto info = (*store)->get_mailbox(*address);
  if (!info) return info.error();

  auto data = read_stdin();
  if (!data) return data.error();
  if (data->empty()) return make_error(ErrorCode::kInvalidArgument, "empty message on stdin: nothing delivered");
  const std::string message = crlf_to_lf(*data);

  auto mail = storage::make_maildir_store();
  auto uid = mail->deliver(info->maildir, message);
  if (!uid) return uid.error();
  ctx.done("delivered " + std::to_string(message.size()) + " bytes to " + address->str() + " (uid " + *uid + ")",
           {{"address", address->str()}, {"uid", *uid}, {"size", message.size()}});
  return {};
}

}  // namespace

void add_deliver_command(CLI::App& app, Context& ctx) {
  auto address = std::make_shared<std::string>();
  CLI::App* cmd = app.add_subcommand(
      "deliver", "Deliver the message on stdin (at most 64 MiB) into a mailbox");
  cmd->add_option("ADDRESS", *address, "mailbox@postoffice")->required();
  cmd->callback([&ctx, address] { ctx.action = [&ctx, address] { return run_deliver(ctx, *address); }; });
}

}  // namespace mailroom::cli
