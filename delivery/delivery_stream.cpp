// DeliveryStream: gathers data lines, hands them to a DeliveryWriter on the worker pool one job
// at a time, commits at the end.
#include "delivery/delivery_stream.h"

#include "core/log/logger.h"
#include "storage/maildir/delivery_writer.h"

namespace mailroom::delivery {

namespace {
// Lines are gathered up to this before a worker job writes them (the writer's own write size).
constexpr std::size_t kChunk = storage::maildir::kDeliveryWriteChunk;
}  // namespace

struct DeliveryStream::Job {
  storage::MailStore& mail;
  std::vector<std::string> maildirs;  // the first holds the tmp file; the copies go to all
  storage::DeliveryLimits limits;
  std::string head;  // written by the first job
  std::unique_ptr<storage::DeliveryWriter> writer;  // worker side only
  // one step: inputs
  std::string chunk;
  bool commit = false;
  std::optional<std::vector<std::string>> targets;  // the copies go here instead of `maildirs`
  CopyFilter filter;  // set before the commit step
  // outputs (read on the loop once the job finished)
  std::optional<Error> error;
  StreamCommit committed;
  std::string service;  // the connection's, for a log line after it has gone

  void run() {
    if (!error && !writer) {
      auto opened = mail.begin_delivery(maildirs.front(), limits);
      if (!opened) {
        error = opened.error();
      } else {
        writer = std::move(opened).value();
        if (Status s = writer->append(head); !s) error = s.error();
        head.clear();
      }
    }
    if (!error && !chunk.empty()) {
      if (Status s = writer->append(chunk); !s) error = s.error();
    }
    chunk.clear();
    chunk.shrink_to_fit();
    if (!commit) return;
    if (error) {
      committed.error = error;
    } else {
      commit_copies(targets ? *targets : maildirs);
    }
    writer.reset();  // after commit_to (or a failure) there is nothing left to remove
  }

  // commit_to() the maildirs the filter lets through; the others get the filter's reason.
  void commit_copies(const std::vector<std::string>& all) {
    if (filter) committed.held_back = filter(mail, writer->wire_size(), all);
    committed.held_back.resize(filter ? all.size() : 0);
    std::vector<std::string> chosen;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (!filter || !committed.held_back[i]) chosen.push_back(all[i]);
    }
    std::vector<Result<storage::DeliveredMessage>> made;
    if (!chosen.empty()) {
      auto copies = writer->commit_to(chosen);
      if (!copies) {
        committed.error = copies.error();
        return;
      }
      made = std::move(copies).value();
    }
    std::size_t next = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (filter && committed.held_back[i]) {
        committed.copies.push_back(make_error(ErrorCode::kPermanent, *committed.held_back[i]));
      } else {
        committed.copies.push_back(std::move(made[next++]));
      }
    }
  }
};

// A commit that finished after its client went away: the copies may be stored (the client got no
// reply and will send again), so the log says what happened to them.
void DeliveryStream::log_orphan_commit(const Job& job) {
  std::size_t stored = 0;
  std::string uid;
  for (const auto& copy : job.committed.copies) {
    if (!copy.ok()) continue;
    ++stored;
    if (uid.empty()) uid = copy->uid;
  }
  log::warn("delivery.client_gone", {{"service", job.service}, {"stored_copies", std::to_string(stored)},
                                     {"copies", std::to_string(job.targets ? job.targets->size() : job.maildirs.size())},
                                     {"uid", uid},
                                     {"error", job.committed.error ? job.committed.error->message : ""}});
}

DeliveryStream::DeliveryStream(core::Connection& connection, storage::MailStore& mail,
                               std::vector<std::string> maildirs, storage::DeliveryLimits limits, std::string head)
    : conn_(connection),
      job_(std::make_shared<Job>(Job{mail, std::move(maildirs), limits, std::move(head), nullptr, {}, false, {}, {}, {},
                                     {}, connection.service()})) {
  pending_.reserve(kChunk + 1024);
}

DeliveryStream::~DeliveryStream() {
  if (!job_) return;
  if (paused_) conn_.resume_input();
  // The writer's destructor removes the tmp file: disk work, so on a worker. A job in flight
  // holds its own reference; the writer goes with the last one (on that worker or here below).
  if (!in_flight_) {
    conn_.work().submit([job = std::move(job_)]() mutable { job.reset(); }, [] {});
  }
}

void DeliveryStream::add_line(std::string_view line) {
  if (failed_ || commit_) return;
  pending_.append(line);
  pending_ += "\r\n";
  if (pending_.size() >= kChunk) pump();
  // Back-pressure: one chunk is being written and the next is full.
  if (in_flight_ && pending_.size() >= kChunk && !paused_) {
    paused_ = true;
    conn_.pause_input();
  }
}

void DeliveryStream::commit(CommitDone done) {
  commit_ = std::move(done);
  if (!paused_) {
    paused_ = true;
    conn_.pause_input();
  }
  pump();
}

void DeliveryStream::commit(std::vector<std::string> maildirs, CommitDone done) {
  commit_maildirs_ = std::move(maildirs);
  commit(std::move(done));
}

void DeliveryStream::set_copy_filter(CopyFilter filter) {
  pending_filter_ = std::move(filter);  // the job is the worker's while one runs: handed over in pump()
}

void DeliveryStream::pump() {
  if (in_flight_) return;
  if (!commit_ && pending_.size() < kChunk) return;
  in_flight_ = true;
  job_->chunk = std::move(pending_);
  pending_.clear();
  pending_.reserve(kChunk + 1024);
  job_->commit = commit_.has_value();
  if (job_->commit && commit_maildirs_) job_->targets = std::move(commit_maildirs_);  // no job runs now
  if (pending_filter_) job_->filter = std::move(*pending_filter_);
  pending_filter_.reset();
  std::weak_ptr<int> alive = alive_;
  core::WorkQueue& work = conn_.work();
  // The worker drops its reference when done, so the last one (and with it the writer and its
  // tmp file) never goes with the request the loop frees.
  conn_.work().submit([job = job_]() mutable {
                        job->run();
                        job.reset();
                      },
                      [this, alive, job = job_, &work]() mutable {
                        if (alive.expired()) {
                          // The stream is gone (and so is `this`): the writer goes on a worker.
                          if (job->commit) log_orphan_commit(*job);
                          work.submit([job = std::move(job)]() mutable { job.reset(); }, [] {});
                          return;
                        }
                        on_job_done();
                      });
}

void DeliveryStream::on_job_done() {
  in_flight_ = false;
  if (job_->error && !failed_) {
    failed_ = true;
    pending_.clear();
    pending_.shrink_to_fit();
  }
  if (job_->commit) {
    auto done = std::move(*commit_);
    commit_.reset();
    StreamCommit result = std::move(job_->committed);
    job_.reset();  // the writer went with the commit
    paused_ = false;  // the caller resumes input once it has answered
    done(std::move(result));
    return;
  }
  if (commit_ || pending_.size() >= kChunk) {
    pump();
    return;
  }
  if (paused_) {
    paused_ = false;
    conn_.resume_input();
  }
}

}  // namespace mailroom::delivery
