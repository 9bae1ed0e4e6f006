// EventLoop: owns the libuv loop; post() runs a function on the loop thread (callable from any
// thread, and from the loop thread to defer work to the next iteration without re-entrancy).
#pragma once

#include <uv.h>

#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/loop/uv_handle.h"

namespace mailroom::core {

// Logs an exception that reached a libuv callback (loop.exception, with where it was caught).
void log_callback_exception(const char* where, const char* what) noexcept;

// Runs code called from libuv (a C frame): an exception is logged and stops here, never
// unwinding through libuv. Every callback the core hands to libuv goes through it.
template <typename F>
void guard_callback(const char* where, F&& f) noexcept {
  try {
    f();
  } catch (const std::exception& e) {
    log_callback_exception(where, e.what());
  } catch (...) {
    log_callback_exception(where, "unknown exception");
  }
}

class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  uv_loop_t* raw() { return &loop_; }
  void run();   // until stop() and every handle is closed
  void stop();  // close the loop's own handles so run() can return once the rest is closed
  void post(std::function<void()> fn);
  bool on_loop_thread() const { return std::this_thread::get_id() == thread_; }

 private:
  static void on_async(uv_async_t* handle);
  void drain();

  uv_loop_t loop_{};
  UvHandle<uv_async_t> async_;
  std::mutex mutex_;
  std::vector<std::function<void()>> queue_;
  std::thread::id thread_;
};

// Runs blocking work on the libuv thread pool and its completion back on the loop thread.
// Completions must check their owner is still alive (capture a weak_ptr).
class WorkQueue {
 public:
  explicit WorkQueue(EventLoop& loop) : loop_(loop) {}
  void submit(std::function<void()> work, std::function<void()> done);
  std::size_t in_flight() const { return in_flight_; }

 private:
  EventLoop& loop_;
  std::size_t in_flight_ = 0;
};

// A repeating or one-shot timer owned by one object.
class Timer {
 public:
  explicit Timer(EventLoop& loop);
  // (Re)arms: fires after `timeout_ms`, then every `repeat_ms` if non-zero.
  void start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> fn);
  void stop();
  void close() { handle_.reset(); }

 private:
  UvHandle<uv_timer_t> handle_;
  std::function<void()> fn_;
};

}  // namespace mailroom::core
