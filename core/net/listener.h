// Listener: one listening socket — TCP (address + port) or a unix-domain socket (a path); hands
// accepted sockets to its owner.
#pragma once

#include <uv.h>

#include <functional>
#include <optional>
#include <string>

#include "core/base/result.h"
#include "core/loop/event_loop.h"
#include "core/loop/stream_handle.h"
#include "core/loop/uv_handle.h"
#include "core/net/bind_spec.h"
#include "core/net/unix_socket_file.h"

namespace mailroom::core {

class Listener {
 public:
  using AcceptFn = std::function<void(StreamHandle)>;

  Listener(EventLoop& loop, net::BindSpec spec, AcceptFn on_accept);
  // Binds and listens. "*" binds [::] dual-stack (falls back to 0.0.0.0 without IPv6). A unix
  // spec binds its path (see UnixSocketFile: a stale socket file is replaced), with the file
  // mode of set_file_mode(); the file is removed when the listener closes.
  Status open(int backlog = 511);
  // Process-wide: the daemon gave up root after start-up, so a refused bind below 1024 is
  // explained as needing a restart (not as a missing capability).
  static void privileged_ports_closed();
  // Permission bits of a unix socket's file (default 0660): before open(), or after it to change
  // them (a reload). Nothing for TCP.
  Status set_file_mode(unsigned mode);
  const net::BindSpec& spec() const { return spec_; }

 private:
  static void on_connection(uv_stream_t* server, int status);
  int bind_tcp();
  Status open_unix(int backlog);

  EventLoop& loop_;
  net::BindSpec spec_;
  AcceptFn on_accept_;
  unsigned file_mode_ = 0660;
  std::optional<StreamHandle> handle_;
  // After handle_: destroyed first, so the file is removed before the socket closes.
  std::optional<net::UnixSocketFile> socket_file_;
};

}  // namespace mailroom::core
