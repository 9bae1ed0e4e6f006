// MailStore: messages in Maildir folders. All methods do blocking disk I/O: call them only from
// worker threads, never on the event loop thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"

namespace mailroom::storage {

struct MessageInfo {
  std::string uid;        // stable unique id (RFC 1939 UIDL: 1-70 chars in 0x21..0x7E)
  uint64_t size = 0;      // octets on the wire: LF -> CRLF, a final CRLF added if missing,
                          // before dot-stuffing (what poplib's retr() counts)
  std::string path;       // absolute file path
};

// A listing shared, not copied, between the maildrop and the session that shows it (a
// 100,000-message listing is megabytes).
using Listing = std::shared_ptr<const std::vector<MessageInfo>>;

// How a MessageReader delivers a message.
enum class WireMode {
  kPlain,       // CRLF line endings, final CRLF guaranteed
  kDotStuffed,  // the same, and a line that starts with '.' gets one more (POP3 RETR and TOP,
                // RFC 1939 section 3), done in the same pass; the ".CRLF" terminator is not added
};

// Reads one message as it goes on the wire (see WireMode). Chunked so a 5 MB message never sits
// in memory.
class MessageReader {
 public:
  virtual ~MessageReader() = default;
  // Appends up to `max` wire bytes to `out`; returns the number appended, 0 at the end. Fewer
  // than `max` only when the message ended: a caller may stop after a short read (saving one
  // more call, e.g. one worker round trip per RETR, just to learn of the end).
  virtual Result<std::size_t> read(std::string& out, std::size_t max) = 0;
  // Once read() has come to the end: the message's wire size, stuffed dots not counted (equal to
  // MessageInfo::size unless the file changed since it was listed).
  virtual uint64_t octets() const = 0;
};

// Exclusive hold on one Maildir (one POP3 session per mailbox); released on destruction.
class MaildropLock {
 public:
  virtual ~MaildropLock() = default;
};

// A snapshot listing of one Maildir, in delivery order (message number = index + 1).
class Maildrop {
 public:
  virtual ~Maildrop() = default;
  virtual const std::vector<MessageInfo>& messages() const = 0;
  virtual Listing listing() const = 0;  // the same messages, shared
  virtual Result<std::unique_ptr<MessageReader>> open_message(std::size_t index, WireMode mode) = 0;
  // Removes the messages with these indexes as one unit: the intent is logged durably first and
  // completed on the next open if interrupted. Messages already gone are not an error.
  virtual Status commit_deletions(const std::vector<std::size_t>& indexes) = 0;
};

class MailStore {
 public:
  virtual ~MailStore() = default;
  // Creates DIR/{cur,new,tmp} (and parents), durable.
  virtual Status create_maildir(const std::string& dir) = 0;
  // Atomic delivery: tmp/ -> fsync -> new/ -> fsync dir. Returns the new message's uid.
  virtual Result<std::string> deliver(const std::string& dir, std::string_view message) = 0;
  // kInUse if another holder has it.
  virtual Result<std::unique_ptr<MaildropLock>> lock(const std::string& dir) = 0;
  // Lists new/ and cur/ (finishing any interrupted deletion first).
  virtual Result<std::unique_ptr<Maildrop>> open(const std::string& dir) = 0;
};

std::unique_ptr<MailStore> make_maildir_store();

}  // namespace mailroom::storage
