// The log writer thread and its bounded queue.
#include "core/log/log_writer.h"

namespace mailroom::log {

LogWriter::LogWriter(std::size_t max_queued_bytes) : max_bytes_(max_queued_bytes) {}

LogWriter::~LogWriter() { stop(); }

void LogWriter::start_locked() {
  if (!thread_.joinable() && !stopped_) thread_ = std::thread([this] { run(); });
}

bool LogWriter::submit(const std::shared_ptr<Sink>& sink, Level level, std::string line,
                       const std::function<std::string(uint64_t)>& dropped_notice) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopped_) {
    lock.unlock();
    sink->write(level, line);
    return true;
  }
  if (bytes_ + line.size() > max_bytes_) {
    sink->dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (const uint64_t dropped = sink->dropped.load(std::memory_order_relaxed); dropped > 0) {
    std::string notice = dropped_notice(dropped);
    if (bytes_ + notice.size() + line.size() > max_bytes_) {
      sink->dropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    sink->dropped.fetch_sub(dropped, std::memory_order_relaxed);
    bytes_ += notice.size();
    queue_.push_back({sink, Level::kWarn, std::move(notice)});
  }
  bytes_ += line.size();
  queue_.push_back({sink, level, std::move(line)});
  start_locked();
  lock.unlock();
  wake_.notify_one();
  return true;
}

void LogWriter::reopen(const std::shared_ptr<Sink>& sink) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopped_) {
    lock.unlock();
    sink->reopen();
    return;
  }
  queue_.push_back({sink, Level::kInfo, std::string()});
  start_locked();
  lock.unlock();
  wake_.notify_one();
}

void LogWriter::flush() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (!thread_.joinable()) return;
  drained_.wait(lock, [this] { return queue_.empty() && !writing_; });
}

void LogWriter::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopped_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  stopped_ = true;
}

std::size_t LogWriter::queued_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

void LogWriter::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  std::deque<Entry> batch;
  std::string joined;
  for (;;) {
    wake_.wait(lock, [this] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) break;  // stopping, and everything is written
    batch.swap(queue_);  // everything queued so far; producers go on meanwhile
    writing_ = true;
    lock.unlock();
    std::size_t written = 0;
    for (std::size_t i = 0; i < batch.size();) {
      Entry& entry = batch[i];
      written += entry.line.size();
      if (entry.line.empty()) {
        entry.sink->reopen();
        ++i;
        continue;
      }
      if (!entry.sink->joins_lines()) {
        entry.sink->write(entry.level, entry.line);
        ++i;
        continue;
      }
      // A file: the following lines for it leave in the same write().
      joined = std::move(entry.line);
      std::size_t j = i + 1;
      for (; j < batch.size() && batch[j].sink == entry.sink && !batch[j].line.empty() &&
             joined.size() < kMaxJoinedBytes;
           ++j) {
        written += batch[j].line.size();
        joined += batch[j].line;
      }
      entry.sink->write(entry.level, joined);
      i = j;
    }
    batch.clear();  // the sinks' last references may go here, outside the lock
    joined.clear();
    if (joined.capacity() > kMaxJoinedBytes) joined.shrink_to_fit();
    lock.lock();
    bytes_ -= written;
    writing_ = false;
    if (queue_.empty()) drained_.notify_all();
  }
  drained_.notify_all();
}

}  // namespace mailroom::log
