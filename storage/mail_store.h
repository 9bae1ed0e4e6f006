// MailStore: messages in Maildir folders. All methods do blocking disk I/O: call them only from
// worker threads, never on the event loop thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
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

// What a Maildir holds: its messages in new/ and cur/ and their wire octets (POP3 STAT before any
// DELE; a message an open session marked deleted counts until its UPDATE removes it).
struct MailboxUsage {
  uint64_t messages = 0;
  uint64_t bytes = 0;
};

// A listing shared, not copied, between the maildrop and the session that shows it (a
// 100,000-message listing is megabytes).
using Listing = std::shared_ptr<const std::vector<MessageInfo>>;

// When messages were first retrieved (RFC 2449 EXPIRE): uid -> unix seconds.
using Retrievals = std::map<std::string, int64_t>;

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
  // The maildir's first-retrieval times (RFC 2449 EXPIRE); empty when none were recorded.
  virtual Result<Retrievals> read_retrievals() const = 0;
  // Replaces them, durably (a synced file renamed into place).
  virtual Status write_retrievals(const Retrievals& record) = 0;
};

// The default cap on one delivered message, in wire octets: what `mailctl deliver` accepts
// unless told otherwise (64 MiB, the limit it has always had; SMTP's SIZE is counted the same way).
inline constexpr uint64_t kDefaultMaxMessageSize = 64ull * 1024 * 1024;

struct DeliveryLimits {
  // The largest message accepted, counted in wire octets (CRLF line ends, a final CRLF added if
  // missing: what POP3 LIST reports and SMTP SIZE declares).
  uint64_t max_wire_size = kDefaultMaxMessageSize;
};

// One stored copy of a message, as commit() made it.
struct DeliveredMessage {
  std::string maildir;
  std::string uid;       // what UIDL will show
  std::string path;      // its file in new/
  uint64_t stored_size = 0;  // octets in the file (LF line ends): the name's S=
  uint64_t wire_size = 0;    // octets on the wire: the name's W= and POP3's LIST size
};

// Streams one message into a Maildir: written to tmp/ as it arrives, visible in new/ only after
// commit() made it durable. Blocking disk I/O: use it on a worker thread, never on the event
// loop thread, and from one thread at a time. Destroyed before commit() or abort(), it aborts.
class DeliveryWriter {
 public:
  virtual ~DeliveryWriter() = default;
  // Adds the next piece of the message, in any split (a CRLF may straddle two calls): CRLF is
  // stored as LF, a lone CR is kept. Fails once the wire size would exceed the cap (kPermanent)
  // or a write fails (kTemporary for a full disk or quota, else kIo); the tmp file is removed
  // then, and every later call fails with the same error without writing.
  virtual Status append(std::string_view chunk) = 0;
  // Wire octets so far (the final CRLF commit() may add not yet counted).
  virtual uint64_t wire_size() const = 0;
  // fsyncs the file, moves it into new/ of the maildir begin_delivery() was given (named
  // "<unique>,S=<stored>,W=<wire>") and fsyncs new/. On failure nothing is left in tmp/ or new/.
  virtual Result<DeliveredMessage> commit() = 0;
  // One copy for each maildir (several recipients): the file is fsynced once, then hard-linked
  // into each new/ (copied, fsynced and renamed where a link is impossible, e.g. another file
  // system), each new/ fsynced before its result is ok. The outer error means no copy was made
  // (cap, write or fsync failure); otherwise result i is maildirs[i]'s, and a failed one left
  // nothing in that maildir. Every copy gets its own unique name, so a maildir listed twice gets
  // two copies: callers deliver once per mailbox. The tmp file is removed at the end.
  virtual Result<std::vector<Result<DeliveredMessage>>> commit_to(const std::vector<std::string>& maildirs) = 0;
  // Removes the tmp file; nothing was delivered. Harmless after a failure or a second time.
  virtual void abort() = 0;
};

namespace uidl {
class UidlTemplate;
struct UidlSource;
}  // namespace uidl

// How open() lists UIDLs.
struct OpenOptions {
  // A pop3 `uidl_format` template for messages that have no UIDL yet (uidl_template.h); null:
  // native UIDLs (the file's base name) for them.
  std::shared_ptr<const uidl::UidlTemplate> uidl_format;
};

// What import_uidls() did with each UIDL it was given.
struct UidlImportReport {
  std::size_t kept = 0;
  std::size_t no_such_message = 0;  // no message of the Maildir has that file name
  std::size_t duplicate = 0;        // another message already shows that UIDL (or was given it)
  std::size_t invalid = 0;          // not a UIDL (RFC 1939: 1-70 of 0x21..0x7E), or a line unread
};

// What repair_uidls() found and did.
struct UidlRepairReport {
  enum class State {
    kAbsent,   // DIR has no UIDL map: nothing to repair
    kIntact,   // the map reads: left as it is
    kRepaired  // the map was damaged: kept aside, and what could be read of it written anew
  };
  State state = State::kAbsent;
  std::string kept_aside;           // kRepaired: the damaged file, under this path, unchanged
  bool header_kept = false;         // kRepaired: next uid read (else templates start again)
  std::size_t kept = 0;             // entries written back (messages still there)
  std::size_t dropped_lines = 0;    // lines of the damaged map not read back (see salvage_uidl_map)
  std::size_t gone = 0;             // entries read whose message is no longer there
  std::size_t refilled = 0;         // messages the damaged map lost, given their UIDL from `refill`
  std::size_t without_entry = 0;    // listed messages the new map records no UIDL for
};

class MailStore {
 public:
  virtual ~MailStore() = default;
  // Creates DIR/{cur,new,tmp} (and parents), durable.
  virtual Status create_maildir(const std::string& dir) = 0;
  // The same for many (a provisioning apply of thousands of mailboxes): made durable by one
  // syncfs() per file system at the end instead of an fsync per folder (10,000 Maildirs: ~30,000
  // directory fsyncs). Stops at the first failure; what was created stays (the caller undoes it).
  virtual Status create_maildirs(const std::vector<std::string>& dirs) = 0;
  // Starts a delivery into DIR: creates its file in DIR/tmp/ (exclusive, 0600).
  virtual Result<std::unique_ptr<DeliveryWriter>> begin_delivery(const std::string& dir,
                                                                 const DeliveryLimits& limits) = 0;
  // A whole message already in memory, through a DeliveryWriter without a size cap. Returns the
  // new message's uid.
  virtual Result<std::string> deliver(const std::string& dir, std::string_view message) = 0;
  // Removes files in DIR/tmp/ left behind by deliveries a crash or a kill interrupted (never
  // visible: POP3 lists only new/ and cur/): those last changed at least `min_age` ago (Maildir
  // convention: 36 hours), and at once those whose name says a process of this host wrote them
  // that no longer runs (Mailroom's own names carry the writer's pid and host) and whose lock
  // nobody holds (a DeliveryWriter flock()s its tmp file while it exists). A running delivery's
  // file is never removed. Returns the number removed.
  virtual Result<std::size_t> remove_stale_tmp(const std::string& dir, std::chrono::seconds min_age) = 0;
  // kInUse if another holder has it.
  virtual Result<std::unique_ptr<MaildropLock>> lock(const std::string& dir) = 0;
  // Lists new/ and cur/ (finishing any interrupted deletion first), with the UIDLs recorded for
  // the Maildir (imports, templates) and, per `options`, new ones for messages without.
  virtual Result<std::unique_ptr<Maildrop>> open(const std::string& dir, const OpenOptions& options) = 0;
  Result<std::unique_ptr<Maildrop>> open(const std::string& dir) { return open(dir, OpenOptions{}); }
  // Gives DIR's messages the UIDLs another server showed (matched by file base name), durably,
  // under DIR's update lock: safe while the daemon serves the mailbox (an open session keeps its
  // listing; the next sees them). A UIDL another message already shows is skipped, never reused.
  virtual Result<UidlImportReport> import_uidls(const std::string& dir, const uidl::UidlSource& source) = 0;
  // The way out of a damaged UIDL map (which fails every open()): under DIR's update lock, keeps
  // the damaged file aside unchanged (a hard link, DIR/.mailroom-uidls.damaged-<unix time>) and
  // replaces the map with what could be read of it, for the messages still there. With `refill`
  // (the old server's list the map was imported from), a message whose entry was lost gets the
  // UIDL that list gives it, unless another message shows that UIDL; entries read are never
  // changed. An intact or absent map is left alone. Works while the daemon runs.
  virtual Result<UidlRepairReport> repair_uidls(const std::string& dir, const uidl::UidlSource* refill) = 0;
  // DIR's usage, read-only (quotas, mailctl mailbox show/list). An unchanged Maildir (the stamps
  // of new/ and cur/ as last seen) is answered from memory; otherwise from its listing: the
  // .mailroom-index when current, a scan of the names (which refreshes the index) when not.
  virtual Result<MailboxUsage> usage(const std::string& dir) = 0;
};

std::unique_ptr<MailStore> make_maildir_store();

}  // namespace mailroom::storage
