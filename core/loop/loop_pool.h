// LoopPool: the event loops that serve sessions (the daemon-wide setting `loops`). Loop 0 is the
// main loop (listeners, accept, control, reload); loops 1..N-1 each run on a thread of their own
// with a WorkQueue of their own (uv_queue_work on that loop: a job's completion runs on the loop
// that submitted it; libuv's thread pool is shared by all). Each loop owns the connections handed
// to it. With one loop there is no extra thread.
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/loop/event_loop.h"

namespace mailroom::core {

// `loops` as configured (0 = one per core) -> the number of loops to run: 1..kMaxLoops.
constexpr int kMaxLoops = 64;
std::size_t resolve_loop_count(int setting, unsigned hardware_threads);

// Runs `fn` on `loop`'s thread and waits for it (at once when called there). The caller must not
// hold a lock `fn` takes, and `loop` must be running (never waits on a stopped loop).
void run_on_loop(EventLoop& loop, const std::function<void()>& fn);

class LoopPool {
 public:
  LoopPool(EventLoop& main, WorkQueue& main_work);
  ~LoopPool();
  LoopPool(const LoopPool&) = delete;
  LoopPool& operator=(const LoopPool&) = delete;

  // Starts `count - 1` more loops (count >= 1), once; later calls do nothing.
  void start(std::size_t count);
  bool started() const { return started_; }
  // Stops the extra loops and joins their threads: call after every Service is gone (each closes
  // its handles on their own loop first).
  void stop();

  std::size_t size() const { return loops_.size() + 1; }
  EventLoop& loop(std::size_t i) { return i == 0 ? main_ : loops_[i - 1]->loop; }
  WorkQueue& work(std::size_t i) { return i == 0 ? main_work_ : *loops_[i - 1]->work; }

  // The loop for the next session (choose_loop over the open sessions); counted as opened there.
  std::size_t open_session();
  void close_session(std::size_t i);
  struct Load {
    std::size_t open = 0;     // sessions open now
    uint64_t served = 0;      // sessions handed to this loop since start
  };
  std::vector<Load> loads() const;

 private:
  struct Extra {
    EventLoop loop;
    std::unique_ptr<WorkQueue> work;
    std::thread thread;
  };
  EventLoop& main_;
  WorkQueue& main_work_;
  std::vector<std::unique_ptr<Extra>> loops_;
  bool started_ = false;
  mutable std::mutex mu_;  // guards the loads and the cursor
  std::vector<std::size_t> open_{0};
  std::vector<uint64_t> served_{0};
  std::size_t cursor_ = 0;
};

}  // namespace mailroom::core
