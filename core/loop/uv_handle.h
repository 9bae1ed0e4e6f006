// UvHandle<T>: sole owner of a heap-allocated uv_*_t. libuv closes handles asynchronously, so the
// memory is freed in the close callback, never before; `data` is nulled first so late callbacks
// can tell their owner is gone.
#pragma once

#include <uv.h>

#include <memory>

namespace mailroom::core {

template <class T>
class UvHandle {
 public:
  UvHandle() : handle_(std::make_unique<T>()) { handle_->data = nullptr; }
  ~UvHandle() { reset(); }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& other) noexcept = default;
  UvHandle& operator=(UvHandle&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::move(other.handle_);
      initialized_ = other.initialized_;
    }
    return *this;
  }

  T* get() const { return handle_.get(); }
  uv_handle_t* base() const { return reinterpret_cast<uv_handle_t*>(handle_.get()); }
  uv_stream_t* stream() const { return reinterpret_cast<uv_stream_t*>(handle_.get()); }
  explicit operator bool() const { return handle_ != nullptr; }

  // Call after a successful uv_*_init: from then on the handle must be closed, not just freed.
  void mark_initialized() { initialized_ = true; }

  // Closes (if initialized) and frees in the close callback. Only UvHandle ever calls uv_close
  // on its handle, so it is never already closing here.
  void reset() {
    if (!handle_) return;
    handle_->data = nullptr;
    if (initialized_) {
      T* raw = handle_.release();
      uv_close(reinterpret_cast<uv_handle_t*>(raw), [](uv_handle_t* h) {
        std::unique_ptr<T> owned(reinterpret_cast<T*>(h));  // freed here, after libuv is done
      });
    } else {
      handle_.reset();
    }
    initialized_ = false;
  }

 private:
  std::unique_ptr<T> handle_;
  bool initialized_ = false;
};

}  // namespace mailroom::core
