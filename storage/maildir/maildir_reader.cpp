// Message reader: stored messages read and counted in wire form, a chunk at a time.
#include "storage/maildir/maildir_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "storage/maildir/fs_util.h"
#include "storage/maildir/message_files.h"
#include "storage/maildir/wire_form.h"

namespace mailroom::storage::maildir {

namespace {

constexpr std::size_t kReadChunk = 64 * 1024;

class MaildirMessageReader final : public MessageReader {
 public:
  // `file_size`: the stored file's size, as open_message_file() found it.
  MaildirMessageReader(UniqueFd fd, std::string path, WireMode mode, uint64_t file_size)
      : fd_(std::move(fd)), path_(std::move(path)), encoder_(mode == WireMode::kDotStuffed) {
    // Most messages are a few KiB: a buffer the size of the file (not a whole chunk) saves
    // zero-filling 64 KiB per RETR, which showed up in profiles of many small sessions.
    chunk_ = static_cast<std::size_t>(std::clamp<uint64_t>(file_size + 1, 512, kReadChunk));
  }

  Result<std::size_t> read(std::string& out, std::size_t max) override {
    std::size_t appended = 0;
    while (appended < max) {
      if (pos_ < pending_.size()) {
        std::size_t n = std::min(max - appended, pending_.size() - pos_);
        out.append(pending_, pos_, n);
        pos_ += n;
        appended += n;
        continue;
      }
      if (eof_) break;
      pending_.clear();
      pos_ = 0;
      // Encoding only grows the text, so reading at most what is still wanted overshoots by
      // at most the CRs added; the wire form goes straight into `out` (no second copy), and
      // only an overshoot waits in pending_ for the next call.
      if (buf_.size() < chunk_) buf_.resize(chunk_);
      ssize_t n = ::read(fd_.get(), buf_.data(), std::min(chunk_, max - appended));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io_error("cannot read " + path_, errno);
      }
      if (n == 0) {
        eof_ = true;
        encoder_.finish(pending_);
        continue;
      }
      const std::size_t before = out.size();
      encoder_.encode(std::string_view(buf_.data(), static_cast<std::size_t>(n)), out);
      const std::size_t produced = out.size() - before;
      if (appended + produced > max) {
        const std::size_t excess = appended + produced - max;
        pending_.assign(out, out.size() - excess, excess);
        out.resize(out.size() - excess);
        appended = max;
      } else {
        appended += produced;
      }
    }
    return appended;
  }

  uint64_t octets() const override { return encoder_.wire_size(); }

 private:
  UniqueFd fd_;
  std::string path_;
  maildir::WireEncoder encoder_;
  std::size_t chunk_ = kReadChunk;
  std::string buf_;      // raw file bytes of the current chunk
  std::string pending_;  // wire bytes converted but not yet handed out
  std::size_t pos_ = 0;
  bool eof_ = false;
};

}  // namespace

std::unique_ptr<MessageReader> make_message_reader(UniqueFd fd, std::string path, WireMode mode, uint64_t file_size) {
  return std::make_unique<MaildirMessageReader>(std::move(fd), std::move(path), mode, file_size);
}

Result<uint64_t> compute_wire_size(int folder, std::string_view name, const std::string& path) {
  auto file = open_message_file(folder, name, path);
  if (!file) return file.error();
  maildir::WireEncoder encoder;
  std::string buf(kReadChunk, '\0');
  for (;;) {
    ssize_t n = ::read(file->fd.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return io_error("cannot read " + path, errno);
    }
    if (n == 0) break;
    encoder.count(std::string_view(buf.data(), static_cast<std::size_t>(n)));
  }
  std::string tail;
  encoder.finish(tail);
  return encoder.wire_size();
}

}  // namespace mailroom::storage::maildir
