// mailctl deliver ADDRESS < message: local delivery of one message into a mailbox's Maildir
// (atomic tmp/ -> new/ through the MailStore), e.g. for tests and for importing mail. stdin is
// streamed through a DeliveryWriter in bounded chunks, so a message of any size needs only a
// chunk of memory.
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "admin-cli/commands.h"
#include "storage/address.h"
#include "storage/mail_store.h"
#include "storage/quota.h"

namespace mailroom::cli {

namespace {

// One read() of stdin; also the most of the message held in memory at a time.
inline constexpr std::size_t kReadChunk = 64 * 1024;

struct DeliverArgs {
  std::string address;
  std::string max_size = "64M";  // storage::kDefaultMaxMessageSize
};

// "N", "NK", "NM" or "NG" (powers of 1024) -> bytes; at least 1.
Result<uint64_t> parse_size(const std::string& text) {
  auto bad = [&] {
    return make_error(ErrorCode::kInvalidArgument,
                      "--max-size: '" + text + "' is not a size (bytes, or a number with K, M or G)");
  };
  std::size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 15 || text.size() > digits + 1) return bad();
  uint64_t n = std::stoull(text.substr(0, digits));
  if (text.size() == digits + 1) {
    switch (std::toupper(static_cast<unsigned char>(text.back()))) {
      case 'K': n <<= 10; break;
      case 'M': n <<= 20; break;
      case 'G': n <<= 30; break;
      default: return bad();
    }
  }
  if (n == 0) return make_error(ErrorCode::kInvalidArgument, "--max-size must be at least 1 byte");
  return n;
}

// The mailbox's quota refuses a message of `wire_bytes` (nullopt: not read yet): exit 6, and
// nothing is delivered (the caller's writer, destroyed on the way out, removes its tmp file).
void check_quota(storage::MailStore& mail, const storage::MailboxInfo& info, const storage::Quota& quota,
                 std::optional<uint64_t> wire_bytes) {
  if (!quota.limited()) return;
  auto usage = mail.usage(info.maildir);
  if (!usage) return;  // the delivery itself meets the same Maildir and reports it
  if (auto why = storage::quota_refusal(quota, *usage, wire_bytes)) {
    throw ExitCodeError(kExitOverQuota, info.address.str() + ": " + *why + ": nothing delivered");
  }
}

// One read() of stdin into `buf`; 0 at the end.
Result<std::size_t> read_stdin(char* buf, std::size_t size) {
  for (;;) {
    ssize_t n = ::read(STDIN_FILENO, buf, size);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno != EINTR) {
      return make_error(ErrorCode::kIo, std::string("cannot read the message from stdin: ") + std::strerror(errno));
    }
  }
}

Status run_deliver(const Context& ctx, const DeliverArgs& args) {
  auto address = storage::parse_address(args.address);
  if (!address) return address.error();
  auto max_size = parse_size(args.max_size);
  if (!max_size) return max_size.error();
  auto store = ctx.open_store();
  if (!store) return store.error();
  auto info = (*store)->get_mailbox(*address);
  if (!info) return info.error();

  auto buf = std::make_unique<char[]>(kReadChunk);
  auto got = read_stdin(buf.get(), kReadChunk);
  if (!got) return got.error();
  // Checked before anything is created, so an empty stdin leaves no trace.
  if (*got == 0) return make_error(ErrorCode::kInvalidArgument, "empty message on stdin: nothing delivered");

  auto mail = storage::make_maildir_store();
  const storage::Quota quota = storage::mailbox_quota(*info);
  check_quota(*mail, *info, quota, std::nullopt);  // a full mailbox: before anything is written
  auto writer = mail->begin_delivery(info->maildir, storage::DeliveryLimits{.max_wire_size = *max_size});
  if (!writer) return writer.error();
  // Any return before commit() destroys the writer, which removes its tmp file.
  while (*got > 0) {
    if (auto s = (*writer)->append(std::string_view(buf.get(), *got)); !s) {
      if (s.error().code == ErrorCode::kPermanent) {
        return make_error(ErrorCode::kInvalidArgument,
                          s.error().message + " (--max-size " + args.max_size + "): nothing delivered");
      }
      return s.error();
    }
    got = read_stdin(buf.get(), kReadChunk);
    if (!got) return got.error();
  }
  check_quota(*mail, *info, quota, (*writer)->wire_size());
  auto delivered = (*writer)->commit();
  if (!delivered) return delivered.error();
  ctx.done("delivered " + std::to_string(delivered->stored_size) + " bytes to " + address->str() + " (uid " +
               delivered->uid + ")",
           {{"address", address->str()},
            {"uid", delivered->uid},
            {"size_bytes", delivered->stored_size},
            {"wire_size_bytes", delivered->wire_size}});
  return {};
}

}  // namespace

void add_deliver_command(CLI::App& app, Context& ctx) {
  auto args = std::make_shared<DeliverArgs>();
  CLI::App* cmd = app.add_subcommand("deliver", "Deliver the message on stdin into a mailbox (streamed, at most --max-size)");
  cmd->add_option("ADDRESS", args->address, "mailbox@postoffice")->required();
  cmd->add_option("--max-size", args->max_size,
                  "Largest message accepted, in octets with CRLF line ends: bytes or N with K, M or G "
                  "(default 64M)")
      ->type_name("SIZE");
  cmd->callback([&ctx, args] { ctx.action = [&ctx, args] { return run_deliver(ctx, *args); }; });
}

}  // namespace mailroom::cli
