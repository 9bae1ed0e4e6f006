// Listener: one listening TCP socket (address + port); hands accepted sockets to its owner.
#pragma once

#include <uv.h>

#include <functional>
#include <string>

#include "core/base/result.h"
#include "core/loop/event_loop.h"
#include "core/loop/uv_handle.h"
#include "core/net/bind_spec.h"

namespace mailroom::core {

class Listener {
 public:
  using AcceptFn = std::function<void(UvHandle<uv_tcp_t>)>;

  Listener(EventLoop& loop, net::BindSpec spec, AcceptFn on_accept);
  // Binds and listens. "*" binds [::] dual-stack (falls back to 0.0.0.0 without IPv6).
  Status open(int backlog = 511);
  const net::BindSpec& spec() const { return spec_; }

 private:
  static void on_connection(uv_stream_t* server, int status);

  EventLoop& loop_;
  net::BindSpec spec_;
  AcceptFn on_accept_;
  UvHandle<uv_tcp_t> handle_;
};

}  // namespace mailroom::core
