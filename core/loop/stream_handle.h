// StreamHandle: the owned handle of one connected stream socket, of either kind a Listener
// accepts: TCP (uv_tcp_t) or a unix-domain socket (uv_pipe_t). Closed and freed as UvHandle does.
#pragma once

#include <uv.h>

#include <utility>
#include <variant>

#include "core/loop/uv_handle.h"

namespace mailroom::core {

class StreamHandle {
 public:
  // Implicit: either handle is a stream handle.
  StreamHandle(UvHandle<uv_tcp_t> tcp) : handle_(std::move(tcp)) {}
  StreamHandle(UvHandle<uv_pipe_t> pipe) : handle_(std::move(pipe)) {}

  // The TCP handle, or null for a unix-domain socket.
  uv_tcp_t* tcp() const {
    const auto* h = std::get_if<UvHandle<uv_tcp_t>>(&handle_);
    return h != nullptr ? h->get() : nullptr;
  }
  // The pipe handle, or null for TCP.
  uv_pipe_t* pipe() const {
    const auto* h = std::get_if<UvHandle<uv_pipe_t>>(&handle_);
    return h != nullptr ? h->get() : nullptr;
  }
  bool is_unix() const { return std::holds_alternative<UvHandle<uv_pipe_t>>(handle_); }
  uv_stream_t* stream() const {
    return std::visit([](const auto& h) { return h.stream(); }, handle_);
  }
  uv_handle_t* base() const {
    return std::visit([](const auto& h) { return h.base(); }, handle_);
  }
  explicit operator bool() const {
    return std::visit([](const auto& h) { return static_cast<bool>(h); }, handle_);
  }
  // Closes (if initialized) and frees in the close callback.
  void reset() {
    std::visit([](auto& h) { h.reset(); }, handle_);
  }

 private:
  std::variant<UvHandle<uv_tcp_t>, UvHandle<uv_pipe_t>> handle_;
};

}  // namespace mailroom::core
