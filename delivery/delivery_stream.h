// DeliveryStream: message data arriving on a connection, streamed into a DeliveryWriter on the
// worker pool and committed to one or more Maildirs. Lives on the loop thread; disk work runs in
// worker jobs, one at a time per stream (so appends keep their order). Bounded memory: lines are
// gathered up to kDeliveryWriteChunk, and input is paused while one chunk is being written and
// the next is full (TCP back-pressure on a client faster than the disk).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/result.h"
#include "core/net/connection.h"
#include "storage/mail_store.h"

namespace mailroom::delivery {

// What a commit made: `error` when no copy could be made, else one result per maildir.
struct StreamCommit {
  std::optional<Error> error;
  std::vector<Result<storage::DeliveredMessage>> copies;
  // With a CopyFilter: per maildir, why the filter held its copy back (its result in `copies` is
  // then a kPermanent error with that text); empty without one.
  std::vector<std::optional<std::string>> held_back;
};

// Asked on the worker just before the copies are made, with the message's wire size and the
// maildirs: per maildir, a reason to make no copy there (nullopt: make it). Quotas use it.
using CopyFilter = std::function<std::vector<std::optional<std::string>>(
    storage::MailStore& mail, uint64_t wire_size, const std::vector<std::string>& maildirs)>;

class DeliveryStream {
 public:
  using CommitDone = std::function<void(StreamCommit)>;

  // The file is created in the first maildir's tmp/ by the first worker job, starting with
  // `head` (trace header lines, CRLF-ended).
  DeliveryStream(core::Connection& connection, storage::MailStore& mail, std::vector<std::string> maildirs,
                 storage::DeliveryLimits limits, std::string head);
  // Abandons an uncommitted delivery: its tmp file is removed on a worker.
  ~DeliveryStream();
  DeliveryStream(const DeliveryStream&) = delete;
  DeliveryStream& operator=(const DeliveryStream&) = delete;

  // One data line without its ending: stored with CRLF (a bare LF or CR ending becomes CRLF).
  // Ignored once a write failed (the error is reported by commit()).
  void add_line(std::string_view line);
  // Writes what is left, fsyncs and links the file into every maildir, then calls `done` on the
  // loop thread (never if the connection is gone by then). Input stays paused until `done` ran;
  // the caller resumes it.
  void commit(CommitDone done);
  // The same, but the copies go to `maildirs` instead of those given at construction (whose first
  // one still holds the tmp file): XTND XMIT writes into its spool while the message arrives and
  // learns where it goes only at the end.
  void commit(std::vector<std::string> maildirs, CommitDone done);
  // Set before commit(): the maildirs it names get no copy. Runs on a worker.
  void set_copy_filter(CopyFilter filter);

 private:
  struct Job;  // the writer and one step's inputs and outputs, shared with the worker
  void pump();
  void on_job_done();
  static void log_orphan_commit(const Job& job);

  core::Connection& conn_;
  std::shared_ptr<Job> job_;
  std::string pending_;      // lines gathered for the next append
  bool in_flight_ = false;   // a worker job runs
  bool paused_ = false;      // we paused the connection's input (back-pressure)
  bool failed_ = false;      // a write failed: drop further lines
  std::optional<CommitDone> commit_;
  std::optional<std::vector<std::string>> commit_maildirs_;  // commit()'s own list, if given
  std::optional<CopyFilter> pending_filter_;  // set_copy_filter()'s, for the next job
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // a job's completion checks it
};

}  // namespace mailroom::delivery
