// The event loop, the worker pool bridge and timers.
#include "core/loop/event_loop.h"

#include <cstdlib>
#include <stdexcept>
#include <string>

#include "core/log/logger.h"

namespace mailroom::core {

void log_callback_exception(const char* where, const char* what) noexcept {
  try {
    log::error("loop.exception", {{"where", where}, {"what", what}});
  } catch (...) {  // logging itself failed (out of memory): nothing more can be said
  }
}

EventLoop::EventLoop() : thread_(std::this_thread::get_id()) {
  if (int rc = uv_loop_init(&loop_); rc != 0) {
    throw std::runtime_error(std::string("uv_loop_init: ") + uv_strerror(rc));
  }
  uv_async_init(&loop_, async_.get(), &EventLoop::on_async);
  async_.mark_initialized();
  async_.get()->data = this;
}

EventLoop::~EventLoop() {
  async_.reset();
  // Let close callbacks run so every handle's memory is freed.
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop_) != 0) {
    log::warn("loop.close", {{"result", "handles still open"}});
  }
}

void EventLoop::run() {
  thread_ = std::this_thread::get_id();
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void EventLoop::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  async_.reset();
}

void EventLoop::post(std::function<void()> fn) {
  std::lock_guard<std::mutex> lock(mutex_);
  queue_.push_back(std::move(fn));
  // uv_async_send is thread-safe; holding the mutex keeps stop() from closing it meanwhile.
  if (async_) uv_async_send(async_.get());
}

void EventLoop::on_async(uv_async_t* handle) {
  auto* self = static_cast<EventLoop*>(handle->data);
  if (self != nullptr) self->drain();
}

void EventLoop::drain() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    batch.swap(queue_);
  }
  for (auto& fn : batch) guard_callback("post", fn);
}

namespace {
struct WorkRequest {
  uv_work_t req{};
  std::function<void()> work;
  std::function<void()> done;
  std::size_t* in_flight = nullptr;
};
}  // namespace

void WorkQueue::submit(std::function<void()> work, std::function<void()> done) {
  auto request = std::make_unique<WorkRequest>();
  request->work = std::move(work);
  request->done = std::move(done);
  request->in_flight = &in_flight_;
  request->req.data = request.get();
  int rc = uv_queue_work(
      loop_.raw(), &request->req,
      [](uv_work_t* req) {
        auto* r = static_cast<WorkRequest*>(req->data);
        guard_callback("work", r->work);
      },
      [](uv_work_t* req, int /*status*/) {
        std::unique_ptr<WorkRequest> r(static_cast<WorkRequest*>(req->data));
        --*r->in_flight;
        if (r->done) guard_callback("work.done", r->done);
      });
  if (rc != 0) {
    // Cannot happen for a valid loop; run inline so the caller's completion still comes.
    log::error("work.queue_failed", {{"error", uv_strerror(rc)}});
    request->work();
    loop_.post(std::move(request->done));
    return;
  }
  ++in_flight_;
  request.release();  // owned by libuv until the after-work callback
}

Timer::Timer(EventLoop& loop) {
  uv_timer_init(loop.raw(), handle_.get());
  handle_.mark_initialized();
}

void Timer::start(uint64_t timeout_ms, uint64_t repeat_ms, std::function<void()> fn) {
  if (!handle_) return;
  fn_ = std::move(fn);
  handle_.get()->data = this;
  uv_timer_start(
      handle_.get(),
      [](uv_timer_t* t) {
        auto* self = static_cast<Timer*>(t->data);
        if (self != nullptr && self->fn_) {
          auto fn = self->fn_;  // the callback may destroy the timer's owner
          guard_callback("timer", fn);
        }
      },
      timeout_ms, repeat_ms);
}

void Timer::stop() {
  if (handle_) uv_timer_stop(handle_.get());
}

}  // namespace mailroom::core
