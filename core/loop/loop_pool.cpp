// LoopPool: the session loops and their threads.
#include "core/loop/loop_pool.h"

#include <algorithm>
#include <future>

#include "core/log/logger.h"
#include "core/loop/loop_choice.h"

namespace mailroom::core {

std::size_t resolve_loop_count(int setting, unsigned hardware_threads) {
  const int wanted = setting > 0 ? setting : static_cast<int>(std::max(1u, hardware_threads));
  return static_cast<std::size_t>(std::clamp(wanted, 1, kMaxLoops));
}

void run_on_loop(EventLoop& loop, const std::function<void()>& fn) {
  if (loop.on_loop_thread()) {
    fn();
    return;
  }
  std::promise<void> done;
  auto finished = done.get_future();
  loop.post([&fn, &done] {
    try {
      fn();
      done.set_value();
    } catch (...) {
      done.set_exception(std::current_exception());
    }
  });
  finished.get();
}

LoopPool::LoopPool(EventLoop& main, WorkQueue& main_work) : main_(main), main_work_(main_work) {}

LoopPool::~LoopPool() { stop(); }

void LoopPool::start(std::size_t count) {
  if (started_) return;
  started_ = true;
  for (std::size_t i = 1; i < count; ++i) {
    auto extra = std::make_unique<Extra>();
    extra->work = std::make_unique<WorkQueue>(extra->loop);
    EventLoop* loop = &extra->loop;
    // run() records its thread before the first post() runs: on_loop_thread() is true once the
    // post has run.
    std::promise<void> running;
    auto is_running = running.get_future();
    loop->post([&running] { running.set_value(); });
    extra->thread = std::thread([loop] { loop->run(); });
    is_running.get();
    loops_.push_back(std::move(extra));
  }
  std::lock_guard lock(mu_);
  open_.assign(size(), 0);
  served_.assign(size(), 0);
  log::info("daemon.loops", {{"loops", std::to_string(size())}});
}

void LoopPool::stop() {
  for (auto& extra : loops_) {
    EventLoop* loop = &extra->loop;
    loop->post([loop] { loop->stop(); });  // closes the loop's own handle on its thread
  }
  for (auto& extra : loops_) {
    if (extra->thread.joinable()) extra->thread.join();
  }
  loops_.clear();  // each EventLoop closes on this thread now that its own has ended
}

std::size_t LoopPool::open_session() {
  std::lock_guard lock(mu_);
  std::size_t i = choose_loop(open_, cursor_);
  ++open_[i];
  ++served_[i];
  return i;
}

void LoopPool::close_session(std::size_t i) {
  std::lock_guard lock(mu_);
  if (i < open_.size() && open_[i] > 0) --open_[i];
}

std::vector<LoopPool::Load> LoopPool::loads() const {
  std::lock_guard lock(mu_);
  std::vector<Load> out(open_.size());
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = {open_[i], served_[i]};
  return out;
}

}  // namespace mailroom::core
