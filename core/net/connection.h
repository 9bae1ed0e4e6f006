// Connection: one accepted client (TCP or a unix-domain socket). Owns the socket, its LineReader (command lines and
// dot-terminated bodies in the mode the session sets), a write queue with back-pressure, the idle
// timer and the deadlines; drives its ProtocolSession. Lives on the loop thread only.
// Output is batched: small writes made during one loop iteration leave in one send (see write()).
#pragma once

#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/loop/event_loop.h"
#include "core/loop/stream_handle.h"
#include "core/log/transcript.h"
#include "core/loop/uv_handle.h"
#include "core/module/module.h"
#include "core/net/line_reader.h"
#include "core/net/proxy_header.h"
#include "core/net/write_queue.h"
#include "core/tls/tls_stream.h"

namespace mailroom::core {

using ConnectionId = uint64_t;

// The service's limits: defaults for every connection, replaced on a reload (set_limits()).
struct ConnectionLimits {
  std::size_t max_line = 512;  // command line octets including CRLF, unless the session sets its own
  // Above this many queued output bytes no further line is delivered (and the socket is not
  // read) until the client has read half of it: a client that sends commands and never reads
  // the replies cannot make the server queue without bound.
  std::size_t output_high_water = 262144;
  uint64_t idle_timeout_ms = 600000;
  // Deadlines (0 = none): a command line must be complete this long after its first byte
  // arrived; login() must be called this long after start(); a TLS handshake must finish this
  // long after start_tls(). Unlike the idle timer, no byte the client sends moves them.
  uint64_t command_timeout_ms = 0;
  uint64_t login_timeout_ms = 0;
  uint64_t handshake_timeout_ms = 0;
};

class Connection {
 public:
  using ClosedFn = std::function<void(ConnectionId)>;

  Connection(EventLoop& loop, WorkQueue& work, ConnectionId id, StreamHandle socket,
             ConnectionLimits limits, ClosedFn on_closed);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts reading and calls session->on_open().
  void start(std::unique_ptr<ProtocolSession> session);

  // Before start(), with the service's proxy_protocol: the first bytes must be a PROXY header.
  // Reads raw socket bytes (no TLS, no lines) until the header is complete or invalid, the
  // client closes, or `timeout_ms` passes; `done` then gets the verdict, once (kInvalid with the
  // reason in the last two cases too). Bytes after the header are the client's own (or its TLS
  // handshake's): start() hands them on.
  using ProxyHeaderDone = std::function<void(const net::ProxyParse&)>;
  void read_proxy_header(uint64_t timeout_ms, std::size_t max_length, ProxyHeaderDone done);
  // The client as a PROXY header names it: peer_ip() and peer_port() from now on (logs, IP
  // policy, sessions); via() keeps the socket's peer, the balancer.
  void set_proxied_peer(std::string ip, int port);
  const std::string& via() const { return via_; }  // empty: no balancer named another client

  // Moving a connection that read its PROXY header to another loop (Service::hand_over): what the
  // Connection made there on the same socket takes over.
  struct Carried {
    std::string early_input;  // the client's bytes that came with the header
    std::string peer_ip, via;
    int peer_port = 0;
    uint64_t bytes_in = 0;
  };
  // Before start(): stops reading and gives up the socket, filling `carried`. The object keeps no
  // socket: destroy it (on_closed is not called).
  StreamHandle release_socket(Carried& carried);
  // Before start(), on the new loop's Connection.
  void carry_over(Carried carried);

  // The service the connection belongs to: its events carry it (service=NAME) and so go to the
  // service's log target. With `transcript`, every line in and out is logged (debug_transcript).
  void set_log_context(std::string service, bool transcript);
  const std::string& service() const { return service_; }

  ConnectionId id() const { return id_; }
  // The client came through a unix-domain socket: it has no IP address; peer_ip() is then
  // kUnixPeer, local_ip() the socket's path and both ports 0.
  bool is_unix() const { return socket_.is_unix(); }
  static constexpr const char* kUnixPeer = "local";
  const std::string& peer_ip() const { return peer_ip_; }
  // peer_ip() of an accepted socket before any Connection wraps it (empty when unknown).
  static std::string peer_ip_of(const StreamHandle& socket);
  // The client is on this host: a loopback address (127.0.0.0/8, ::1) or the unix socket.
  bool is_local_client() const;
  int peer_port() const { return peer_port_; }
  const std::string& local_ip() const { return local_ip_; }
  int local_port() const { return local_port_; }
  // Where the client connected, for logs: "127.0.0.1:110", or the socket path of a unix client.
  std::string local_endpoint() const {
    return is_unix() ? local_ip_ : local_ip_ + ":" + std::to_string(local_port_);
  }
  EventLoop& loop() { return loop_; }
  WorkQueue& work() { return work_; }
  // Expires when the connection is destroyed: async completions check it before touching us.
  std::weak_ptr<void> liveness() const { return alive_; }
  // The session (null before start()), for its describe().
  const ProtocolSession* session() const { return session_.get(); }
  // When the connection was accepted, and the bytes read from and written to the socket so far
  // (ciphertext under TLS).
  std::chrono::system_clock::time_point connected_at() const { return connected_at_; }
  uint64_t bytes_in() const { return bytes_in_; }
  uint64_t bytes_out() const { return bytes_out_; }

  // Queues `data` (encrypted first under TLS). Small writes are held until the loop's next idle
  // phase (after this iteration's callbacks) and then sent together, usually in one writev();
  // while input is paused they are held until resume_input(), close() or abort(), so a command's
  // reply leaves in one piece. Once kBatchLimit bytes (or output_high_water, if lower) are
  // waiting, they go at once. Held bytes never count as over the high-water mark; a send error
  // closes the connection (on_close()) when it happens, possibly after write() returned.
  void write(std::string data);
  // write() for message data (RETR, TOP): a transcript shows the first `reply_octets` (the reply
  // line in front of the data) as lines and the rest as "[N octets]".
  void write_data(std::string data, std::size_t reply_octets = 0);
  std::size_t queued_bytes() const { return queued_bytes_; }
  bool over_high_water() const { return queued_bytes_ >= limits_.output_high_water; }
  // Socket sends issued so far (uv_try_write and uv_write calls): for tests and diagnostics.
  uint64_t sends_issued() const { return sends_issued_; }

  static constexpr std::size_t kBatchLimit = 64 * 1024;

  // While paused, no lines are delivered, the socket is not read (TCP back-pressure) and small
  // output is held (see write()).
  void pause_input();
  // Resumes delivery of buffered lines on the next loop iteration (never re-entrantly).
  void resume_input();

  // New limits for this connection (a reload). Deadlines already running keep their time; a
  // line length the session set for its state (set_line_mode) stays.
  void set_limits(const ConnectionLimits& limits);
  // The session's framing of command lines from the next line on; max_line 0 means the
  // service's max_line (ConnectionLimits). Kept until the session changes it.
  void set_line_mode(LineMode mode);
  // The next bytes are a dot-terminated body (on_body_line ... on_body_end), then command lines
  // again in the current line mode. Over-long body lines are not on_line_too_long (no auto-deny).
  void begin_body(BodyMode mode);
  // The session's idle timeout for its current state (e.g. SMTP's longer wait inside DATA), from
  // now on; 0 returns to the service's idle_timeout. Kept across reloads.
  void set_idle_timeout(uint64_t ms);
  // The session logged in: the login deadline no longer applies.
  void login_done();
  // Input held back because the client is not reading its replies (see output_high_water).
  bool input_held_for_output() const { return output_held_; }

  // Switches to TLS (implicit TLS before start(), or a STARTTLS-style command once its go-ahead
  // reply is queued):
  // input buffered so far is discarded, so nothing sent in plaintext is executed after the
  // handshake (no command injection). Without a context it aborts the connection and returns
  // false.
  bool start_tls(std::shared_ptr<const tls::TlsContext> context);
  bool tls_active() const { return tls_ != nullptr; }
  bool tls_established() const { return tls_ && tls_->handshake_done(); }
  std::string tls_version() const { return tls_ ? tls_->version() : std::string(); }
  std::string tls_cipher() const { return tls_ ? tls_->cipher_name() : std::string(); }

  // Ends the session on the administrator's behalf (mailctl sessions kill, service stop or
  // restart): once no command runs (input not paused), `last_line` is sent and the connection
  // closed, as after a timeout. A command still running after `grace_ms` (a RETR to a client
  // that does not read, a login waiting for a check slot) drops the connection instead: its
  // worker job finishes under the liveness rules, and a POP3 session dropped deletes nothing.
  // Before a TLS handshake is done nothing can be said: the connection is dropped at once.
  void end(std::string last_line, uint64_t grace_ms);
  bool ending() const { return ending_; }

  // Closes once the queued output is written.
  void close();
  // Closes now: output not yet handed to the kernel gets one non-blocking send, the rest is dropped.
  void abort();
  bool closing() const { return closing_; }
  // The client has hung up: EOF or a reset, seen by a read or, while input is paused (a command
  // runs), by peeking at the socket without consuming anything. Unsent pipelined bytes before
  // the EOF hide it (the client is then taken as still there).
  bool peer_gone() const;

 private:
  static void on_alloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void on_write(uv_write_t* req, int status);
  static void on_flush_idle(uv_idle_t* handle);

  void handle_read(ssize_t nread, const uv_buf_t* buf);
  void read_proxy_bytes(ssize_t nread, const uv_buf_t* buf);
  void finish_proxy_read(const net::ProxyParse& verdict);
  void handle_write_done(std::size_t bytes, int status);
  void handle_bytes(const char* data, std::size_t len);
  void write_raw(std::string data);
  // write(): a transcript shows the first `shown` octets as lines, the rest as a count.
  void write_text(std::string data, std::size_t shown);
  void on_tls_error(const Error& error, std::string alert);
  void process_input();
  void update_reading();
  void flush();
  void send_pending();
  static constexpr std::size_t kMaxSendBuffers = 64;  // buffers per send: one writev()/uv_write at most
  void schedule_flush();
  void cancel_flush();
  bool finish_if_flushed();
  void drop_now();
  // Runs a session callback; an exception it throws is logged and closes the connection (it never
  // reaches libuv). false: it threw, or the connection was destroyed meanwhile.
  template <typename F>
  bool call_session(const char* callback, F&& f);
  void deliver(const LineReader::Event& event);
  LineMode effective_line_mode() const;
  void arm_idle_timer();
  void arm_deadline_timer();
  void on_deadline();
  void update_line_deadline();
  void post_process_input();
  void finish_ending();
  void release_output_hold();
  void finish_close();
  void discard_unread_input();

  EventLoop& loop_;
  WorkQueue& work_;
  ConnectionId id_;
  StreamHandle socket_;
  ConnectionLimits limits_;
  ClosedFn on_closed_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  std::unique_ptr<ProtocolSession> session_;
  Timer idle_timer_;
  // One timer for the deadlines below (loop time in ms, 0 = not running): the earliest wins.
  Timer deadline_timer_;
  uint64_t line_deadline_ = 0;
  uint64_t login_deadline_ = 0;
  uint64_t handshake_deadline_ = 0;
  uint64_t end_deadline_ = 0;  // end(): the running command's grace period
  uint64_t proxy_deadline_ = 0;  // read_proxy_header()
  uint64_t deadline_armed_ = 0;  // when deadline_timer_ fires, 0 = stopped
  UvHandle<uv_idle_t> flush_idle_;  // active only while batched output waits
  std::unique_ptr<tls::TlsStream> tls_;

  std::string peer_ip_, local_ip_;
  std::string via_;  // set_proxied_peer(): the balancer's address
  // read_proxy_header() until the header is read: what arrived so far (at most the header's
  // limit and one read), the limit, the wait and whom to tell.
  struct ProxyRead {
    std::string received;
    std::size_t max_length = 0;
    uint64_t timeout_ms = 0;
    ProxyHeaderDone done;
  };
  std::unique_ptr<ProxyRead> proxy_read_;
  std::string early_input_;  // the client's bytes that came with its PROXY header, for start()
  std::string service_;                         // set_log_context()
  std::unique_ptr<log::Transcript> transcript_;  // debug_transcript on
  int peer_port_ = 0, local_port_ = 0;
  std::chrono::system_clock::time_point connected_at_ = std::chrono::system_clock::now();
  uint64_t bytes_in_ = 0, bytes_out_ = 0;
  bool ending_ = false;     // end() was called: the last line waits for the running command
  std::string end_line_;

  // input
  LineReader reader_;              // raw bytes not yet delivered as lines
  uint64_t session_idle_timeout_ms_ = 0;  // set_idle_timeout(); 0: the service's
  LineMode line_mode_{0, LineFraming::kLenient};  // as the session set it (max_line 0: the service's)
  bool paused_ = false;
  bool reading_ = false;
  bool resume_posted_ = false;
  bool peer_eof_ = false;
  bool output_held_ = false;       // lines wait: queued output reached output_high_water

  // output
  struct WriteRequest;
  WriteQueue out_;                    // not yet handed to the kernel or to libuv
  WriteRequest* inflight_ = nullptr;  // owned by libuv while in flight; freed in on_write
  bool write_inflight_ = false;
  bool flush_scheduled_ = false;
  std::size_t queued_bytes_ = 0;      // out_ plus in flight
  bool above_high_water_ = false;
  uint64_t sends_issued_ = 0;

  bool closing_ = false;      // no more input is processed
  bool close_after_flush_ = false;
  bool finished_ = false;
  bool graceful_ = false;     // closed by close(): drain unread input so the kernel sends FIN
};

// Text form of a sockaddr ("127.0.0.1", "::1"; IPv4-mapped IPv6 shown as IPv4) and its port.
std::string address_to_string(const sockaddr_storage& addr, int* port);

}  // namespace mailroom::core
