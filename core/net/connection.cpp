// Connection: socket I/O, line assembly, batched write queue and idle timer for one client.
#include "core/net/connection.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <atomic>
#include <cstring>
#include <utility>

#include "core/log/logger.h"

namespace mailroom::core {

namespace {
// One read buffer per loop thread (core/loop/loop_pool: a thread per loop): idle connections hold
// no input memory.
constexpr std::size_t kReadBufferSize = 64 * 1024;
thread_local std::array<char, kReadBufferSize> g_read_buffer;
thread_local bool g_read_buffer_busy = false;

net::ProxyParse proxy_refusal(std::string why) {
  net::ProxyParse verdict;
  verdict.status = net::ProxyParse::Status::kInvalid;
  verdict.error = std::move(why);
  return verdict;
}
}  // namespace

std::string address_to_string(const sockaddr_storage& addr, int* port) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    if (port) *port = ntohs(a->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], buf, sizeof buf);
    } else {
      inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    }
    if (port) *port = ntohs(a->sin6_port);
  }
  return buf;
}

std::string Connection::peer_ip_of(const StreamHandle& socket) {
  uv_tcp_t* tcp = socket.tcp();
  if (tcp == nullptr) return kUnixPeer;
  sockaddr_storage addr{};
  int len = sizeof addr;
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return {};
  return address_to_string(addr, nullptr);
}

Connection::Connection(EventLoop& loop, WorkQueue& work, ConnectionId id, StreamHandle socket,
                       ConnectionLimits limits, ClosedFn on_closed)
    : loop_(loop),
      work_(work),
      id_(id),
      socket_(std::move(socket)),
      limits_(limits),
      on_closed_(std::move(on_closed)),
      idle_timer_(loop),
      deadline_timer_(loop) {
  socket_.stream()->data = this;
  if (uv_tcp_t* tcp = socket_.tcp()) {
    sockaddr_storage addr{};
    int len = sizeof addr;
    if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      peer_ip_ = address_to_string(addr, &peer_port_);
    }
    len = sizeof addr;
    if (uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      local_ip_ = address_to_string(addr, &local_port_);
    }
    uv_tcp_nodelay(tcp, 1);
  } else {
    peer_ip_ = kUnixPeer;  // a unix-domain client has no address of its own (unnamed socket)
    std::array<char, 256> path{};  // an accepted socket's name is its listener's path (< 108)
    std::size_t size = path.size();
    if (uv_pipe_getsockname(socket_.pipe(), path.data(), &size) == 0) local_ip_.assign(path.data(), size);
  }
  uv_idle_init(loop_.raw(), flush_idle_.get());
  flush_idle_.mark_initialized();
  flush_idle_.get()->data = this;
}

// A write in flight owns its buffers; closing the socket cancels it and its callback frees it.
struct Connection::WriteRequest {
  uv_write_t req{};
  Connection* owner = nullptr;
  std::vector<std::string> chunks;
  std::vector<uv_buf_t> bufs;
  std::size_t bytes = 0;  // what bufs cover (the first chunk may be partly sent already)
};

Connection::~Connection() {
  if (inflight_ != nullptr) inflight_->owner = nullptr;
  idle_timer_.close();
  deadline_timer_.close();
  flush_idle_.reset();
  if (graceful_ && socket_) discard_unread_input();
  socket_.reset();
}

bool Connection::is_local_client() const {
  return is_unix() || peer_ip_.rfind("127.", 0) == 0 || peer_ip_ == "::1";
}

bool Connection::peer_gone() const {
  if (peer_eof_ || finished_) return true;
  uv_os_fd_t fd = -1;
  if (!socket_ || uv_fileno(socket_.base(), &fd) != 0) return false;
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void Connection::discard_unread_input() {
  // Closing a socket with unread bytes makes Linux send RST, and an RST discards what is still
  // in our send buffer: the end of a reply the client has not read yet. Read what is there.
  uv_os_fd_t fd = -1;
  if (uv_fileno(socket_.base(), &fd) != 0) return;
  char buf[4096];
  for (int i = 0; i < 64; ++i) {
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n <= 0) break;
  }
}

const char* timeout_name(Timeout which) {
  switch (which) {
    case Timeout::kIdle: return "idle";
    case Timeout::kCommand: return "command";
    case Timeout::kLogin: return "login";
    case Timeout::kHandshake: return "handshake";
  }
  return "idle";
}

void Connection::start(std::unique_ptr<ProtocolSession> session) {
  session_ = std::move(session);
  arm_idle_timer();
  if (limits_.login_timeout_ms > 0) {
    login_deadline_ = uv_now(loop_.raw()) + limits_.login_timeout_ms;
    arm_deadline_timer();
  }
  reader_.set_mode(effective_line_mode());
  update_reading();
  if (!call_session("on_open", [this] { session_->on_open(); })) return;
  if (!early_input_.empty()) {  // sent together with a PROXY header
    const std::string early = std::exchange(early_input_, {});
    handle_bytes(early.data(), early.size());
  }
}

void Connection::read_proxy_header(uint64_t timeout_ms, std::size_t max_length, ProxyHeaderDone done) {
  proxy_read_ = std::make_unique<ProxyRead>(ProxyRead{{}, max_length, timeout_ms, std::move(done)});
  proxy_deadline_ = uv_now(loop_.raw()) + timeout_ms;
  arm_deadline_timer();
  update_reading();
}

StreamHandle Connection::release_socket(Carried& carried) {
  if (reading_) {
    uv_read_stop(socket_.stream());
    reading_ = false;
  }
  idle_timer_.stop();
  proxy_deadline_ = 0;
  arm_deadline_timer();
  carried.early_input = std::exchange(early_input_, {});
  carried.peer_ip = peer_ip_;
  carried.via = via_;
  carried.peer_port = peer_port_;
  carried.bytes_in = bytes_in_;
  socket_.stream()->data = nullptr;
  return std::move(socket_);
}

void Connection::carry_over(Carried carried) {
  early_input_ = std::move(carried.early_input);
  peer_ip_ = std::move(carried.peer_ip);
  via_ = std::move(carried.via);
  peer_port_ = carried.peer_port;
  bytes_in_ += carried.bytes_in;
}

void Connection::set_proxied_peer(std::string ip, int port) {
  via_ = std::exchange(peer_ip_, std::move(ip));
  peer_port_ = port;
}

void Connection::read_proxy_bytes(ssize_t nread, const uv_buf_t* buf) {
  if (nread == UV_EOF || nread < 0) {
    peer_eof_ = true;
    update_reading();
    finish_proxy_read(proxy_refusal(nread == UV_EOF ? "closed before its PROXY header was complete"
                                              : std::string("read error before the PROXY header: ") +
                                                    uv_strerror(static_cast<int>(nread))));
    return;
  }
  bytes_in_ += static_cast<uint64_t>(nread);
  // Bounded: the parser refuses as soon as the bytes cannot become a header within max_length.
  proxy_read_->received.append(buf->base, static_cast<std::size_t>(nread));
  net::ProxyParse verdict = net::parse_proxy_header(proxy_read_->received, proxy_read_->max_length);
  if (verdict.status != net::ProxyParse::Status::kNeedMore) finish_proxy_read(verdict);
}

void Connection::finish_proxy_read(const net::ProxyParse& verdict) {
  std::unique_ptr<ProxyRead> read = std::move(proxy_read_);
  proxy_deadline_ = 0;
  arm_deadline_timer();
  if (verdict.status == net::ProxyParse::Status::kComplete) early_input_ = read->received.substr(verdict.header.length);
  read->done(verdict);  // may close us, or start() the session
}

template <typename F>
bool Connection::call_session(const char* callback, F&& f) {
  std::weak_ptr<int> alive = alive_;
  try {
    f();
    return !alive.expired();
  } catch (const std::exception& e) {
    log::error("net.session_error", {{"service", service_}, {"cid", std::to_string(id_)}, {"ip", peer_ip_}, {"callback", callback},
                                     {"error", e.what()}});
  } catch (...) {
    log::error("net.session_error", {{"service", service_}, {"cid", std::to_string(id_)}, {"ip", peer_ip_}, {"callback", callback},
                                     {"error", "unknown exception"}});
  }
  // The session's state is unknown now: nothing more of it runs, except on_close() (guarded).
  if (!alive.expired()) abort();
  return false;
}

LineMode Connection::effective_line_mode() const {
  LineMode mode = line_mode_;
  if (mode.max_line == 0) mode.max_line = limits_.max_line;
  return mode;
}

void Connection::set_line_mode(LineMode mode) {
  line_mode_ = mode;
  reader_.set_mode(effective_line_mode());
}

void Connection::begin_body(BodyMode mode) { reader_.begin_body(mode); }

void Connection::set_idle_timeout(uint64_t ms) {
  session_idle_timeout_ms_ = ms;
  if (!closing_) arm_idle_timer();
}

void Connection::set_limits(const ConnectionLimits& limits) {
  bool timeout_changed = session_idle_timeout_ms_ == 0 && limits.idle_timeout_ms != limits_.idle_timeout_ms;
  limits_ = limits;
  reader_.set_mode(effective_line_mode());
  if (timeout_changed && !closing_) arm_idle_timer();
}

void Connection::arm_idle_timer() {
  const uint64_t timeout = session_idle_timeout_ms_ != 0 ? session_idle_timeout_ms_ : limits_.idle_timeout_ms;
  idle_timer_.start(timeout, 0, [this] {
    if (finished_) return;
    if (closing_) {  // still flushing after close(): the client stopped reading
      drop_now();
      return;
    }
    log::info("net.idle_timeout", {{"service", service_}, {"cid", std::to_string(id_)}, {"ip", peer_ip_}});
    std::string last;
    if (session_ && !call_session("on_timeout", [&] { last = session_->on_timeout(Timeout::kIdle); })) return;
    if (!last.empty()) write(std::move(last));
    close();
  });
}

void Connection::login_done() {
  if (login_deadline_ == 0) return;
  login_deadline_ = 0;
  arm_deadline_timer();
}

// Points the deadline timer at the earliest running deadline (or stops it).
void Connection::arm_deadline_timer() {
  uint64_t next = 0;
  for (uint64_t d : {line_deadline_, login_deadline_, handshake_deadline_, end_deadline_, proxy_deadline_}) {
    if (d != 0 && (next == 0 || d < next)) next = d;
  }
  if (next == deadline_armed_) return;
  deadline_armed_ = next;
  if (next == 0 || finished_) {
    deadline_timer_.stop();
    return;
  }
  uint64_t now = uv_now(loop_.raw());
  deadline_timer_.start(next > now ? next - now : 0, 0, [this] { on_deadline(); });
}

void Connection::on_deadline() {
  deadline_armed_ = 0;
  if (finished_) return;
  uint64_t now = uv_now(loop_.raw());
  auto due = [now](uint64_t d) { return d != 0 && d <= now; };
  if (closing_) {  // already on its way out (the idle timer bounds that): nothing more to say
    line_deadline_ = login_deadline_ = handshake_deadline_ = end_deadline_ = proxy_deadline_ = 0;
    return;
  }
  if (due(proxy_deadline_) && proxy_read_) {
    const uint64_t ms = proxy_read_->timeout_ms;
    const std::string wait = ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
    finish_proxy_read(proxy_refusal("no complete PROXY header within " + wait + " (" +
                                    std::to_string(proxy_read_->received.size()) + " octets received)"));
    return;
  }
  if (due(end_deadline_)) {  // end(): the running command did not finish in time
    log::info("net.ended", {{"cid", std::to_string(id_)}, {"ip", peer_ip_}, {"how", "dropped: a command was still running"}});
    drop_now();
    return;
  }
  Timeout which;
  if (due(handshake_deadline_)) {
    which = Timeout::kHandshake;
  } else if (due(login_deadline_)) {
    which = Timeout::kLogin;
  } else if (due(line_deadline_)) {
    which = Timeout::kCommand;
  } else {
    arm_deadline_timer();
    return;
  }
  line_deadline_ = login_deadline_ = handshake_deadline_ = 0;
  log::info("net.timeout", {{"service", service_}, {"cid", std::to_string(id_)}, {"ip", peer_ip_}, {"deadline", timeout_name(which)}});
  std::string last;
  if (session_ && !call_session("on_timeout", [&] { last = session_->on_timeout(which); })) return;
  if (which == Timeout::kHandshake) {  // no channel to say anything on yet
    drop_now();
    return;
  }
  if (!last.empty()) write(std::move(last));
  close();
}

// The command deadline runs while a line has begun but not ended and the connection wants
// lines (not while a command runs or while output holds input back: then we are the slow one).
void Connection::update_line_deadline() {
  bool partial =
      limits_.command_timeout_ms > 0 && !paused_ && !output_held_ && !closing_ && reader_.partial_line();
  if (!partial) {
    if (line_deadline_ == 0) return;
    line_deadline_ = 0;
  } else if (line_deadline_ == 0) {
    line_deadline_ = uv_now(loop_.raw()) + limits_.command_timeout_ms;
  } else {
    return;
  }
  arm_deadline_timer();
}

// ---------------------------------------------------------------- input

void Connection::on_alloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  if (g_read_buffer_busy) {  // cannot happen: reads are not nested; be safe anyway
    *buf = uv_buf_init(nullptr, 0);
    return;
  }
  g_read_buffer_busy = true;
  *buf = uv_buf_init(g_read_buffer.data(), kReadBufferSize);
}

void Connection::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (buf->base == g_read_buffer.data()) g_read_buffer_busy = false;
  if (self == nullptr) return;
  guard_callback("read", [&] { self->handle_read(nread, buf); });
}

void Connection::handle_read(ssize_t nread, const uv_buf_t* buf) {
  if (proxy_read_) {
    if (nread != 0) read_proxy_bytes(nread, buf);
    return;
  }
  if (nread > 0) {
    bytes_in_ += static_cast<uint64_t>(nread);
    arm_idle_timer();
    handle_bytes(buf->base, static_cast<std::size_t>(nread));
  } else if (nread == UV_EOF) {
    // The client finished sending (it may still read): answer what it sent, then close.
    peer_eof_ = true;
    update_reading();
    process_input();
  } else if (nread < 0) {
    // A reset right after connecting is what scanners and some attacks do: say who it was.
    log::info("net.read_error", {{"service", service_}, {"cid", std::to_string(id_)}, {"ip", peer_ip_},
                                 {"error", uv_strerror(static_cast<int>(nread))}});
    peer_eof_ = true;
    drop_now();
  }
}

void Connection::handle_bytes(const char* data, std::size_t len) {
  if (closing_) return;
  if (!tls_) {
    reader_.append(std::string_view(data, len));
    process_input();
    return;
  }
  std::string plain, cipher;
  bool was_established = tls_->handshake_done();
  Status status = tls_->feed(std::string_view(data, len), plain, cipher);
  if (!status) {
    on_tls_error(status.error(), std::move(cipher));
    return;
  }
  if (!cipher.empty()) write_raw(std::move(cipher));
  if (!was_established && tls_->handshake_done()) {
    if (handshake_deadline_ != 0) {
      handshake_deadline_ = 0;
      arm_deadline_timer();
    }
    log::debug("tls.handshake", {{"service", service_}, {"cid", std::to_string(id_)}, {"ip", peer_ip_}, {"version", tls_->version()},
                                 {"cipher", tls_->cipher_name()}});
  }
  if (!plain.empty()) {
    reader_.append(plain);
    process_input();
  }
  if (tls_ && tls_->peer_closed() && !finished_ && !peer_eof_) {
    peer_eof_ = true;
    update_reading();
    process_input();
  }
}

void Connection::on_tls_error(const Error& error, std::string alert) {
  static std::atomic<uint64_t> failures{0};  // every loop's connections
  const uint64_t count = ++failures;
  log::warn(tls_->handshake_done() ? "tls.error" : "tls.handshake_failed",
            {{"service", service_}, {"cid", std::to_string(id_)}, {"ip", peer_ip_}, {"error", error.message},
             {"count", std::to_string(count)}});
  if (!alert.empty()) write_raw(std::move(alert));
  closing_ = true;  // nothing more is read or encrypted; the alert is flushed, then closed
  close_after_flush_ = true;
  update_reading();
  send_pending();
  finish_if_flushed();
}

bool Connection::start_tls(std::shared_ptr<const tls::TlsContext> context) {
  if (!context) {  // nothing to upgrade with (a module offers the upgrade only with a context)
    abort();
    return false;
  }
  tls_ = std::make_unique<tls::TlsStream>(std::move(context));
  reader_.clear();
  line_deadline_ = 0;
  if (limits_.handshake_timeout_ms > 0) handshake_deadline_ = uv_now(loop_.raw()) + limits_.handshake_timeout_ms;
  arm_deadline_timer();
  return true;
}

void Connection::process_input() {
  auto alive = std::weak_ptr<int>(alive_);
  while (!paused_ && !closing_ && reader_.has_unread()) {
    if (queued_bytes_ >= limits_.output_high_water) {
      // The client is not reading what we answer: stop taking its commands (and reading its
      // socket) until it has read half of the queue; release_output_hold() resumes.
      output_held_ = true;
      send_pending();
      if (finished_ || !output_held_) return;  // a failed send closed us, or all of it went out
      break;
    }
    LineReader::Event event = reader_.next();
    if (event.kind == LineReader::Kind::kNone) break;
    deliver(event);
    if (alive.expired() || finished_) return;
  }
  reader_.compact();
  update_reading();
  update_line_deadline();
  // After the client's EOF, once every complete line it sent has been answered, we are done.
  if (peer_eof_ && !paused_ && !closing_ && !output_held_) close();
}

// Hands one framed event to the session.
void Connection::deliver(const LineReader::Event& event) {
  switch (event.kind) {
    case LineReader::Kind::kLine:
      if (transcript_) {
        std::string shown;
        if (!call_session("loggable_line", [&] { shown = session_->loggable_line(event.text); })) return;
        transcript_->client_line(shown);
      }
      call_session("on_line", [&] { session_->on_line(event.text, event.ending); });
      break;
    case LineReader::Kind::kTooLong:
      if (transcript_) transcript_->client_line("[over-long line discarded]");
      call_session("on_line_too_long", [&] { session_->on_line_too_long(); });
      break;
    case LineReader::Kind::kBodyLine:
      call_session("on_body_line", [&] { session_->on_body_line(event.text, event.ending); });
      break;
    case LineReader::Kind::kBodyEnd:
      if (transcript_) transcript_->data(true, event.summary.octets);
      call_session("on_body_end", [&] { session_->on_body_end(event.summary); });
      break;
    case LineReader::Kind::kNone:
      break;
  }
}

void Connection::update_reading() {
  if (!socket_) return;
  // Read only while lines are wanted: while a command runs, pipelined input waits in the
  // kernel's buffer (TCP back-pressure), so a client cannot make us buffer without bound.
  bool want = !closing_ && !peer_eof_ && !paused_ && !output_held_;
  if (want && !reading_) {
    if (uv_read_start(socket_.stream(), &Connection::on_alloc, &Connection::on_read) == 0) reading_ = true;
  } else if (!want && reading_) {
    uv_read_stop(socket_.stream());
    reading_ = false;
  }
}

void Connection::pause_input() {
  paused_ = true;
  cancel_flush();  // the reply written just before belongs with what the command writes next
  update_reading();
  update_line_deadline();
}

void Connection::resume_input() {
  if (!paused_) return;
  paused_ = false;
  if (!out_.empty() && !write_inflight_) schedule_flush();
  post_process_input();
}

// The queue the client left unread has shrunk to half the high-water mark: take commands again.
void Connection::release_output_hold() {
  if (!output_held_ || queued_bytes_ > limits_.output_high_water / 2) return;
  output_held_ = false;
  post_process_input();
}

// Delivers buffered lines on the next loop iteration (never re-entrantly).
void Connection::post_process_input() {
  if (resume_posted_) return;
  resume_posted_ = true;
  std::weak_ptr<int> alive = alive_;
  loop_.post([this, alive] {
    if (alive.expired()) return;
    resume_posted_ = false;
    if (paused_ || closing_) return;
    if (ending_) {
      finish_ending();
    } else {
      process_input();
    }
  });
}

// ---------------------------------------------------------------- output

void Connection::set_log_context(std::string service, bool transcript) {
  service_ = std::move(service);
  if (transcript) {
    transcript_ = std::make_unique<log::Transcript>(service_, id_);
  } else {
    transcript_.reset();
  }
}

void Connection::write(std::string data) { write_text(std::move(data), std::string::npos); }

void Connection::write_data(std::string data, std::size_t reply_octets) { write_text(std::move(data), reply_octets); }

void Connection::write_text(std::string data, std::size_t shown) {
  if (closing_ && !close_after_flush_) return;
  if (finished_ || data.empty()) return;
  if (transcript_) {
    const std::string_view text(data);
    transcript_->server_text(text.substr(0, shown));
    if (shown < text.size()) transcript_->data(false, text.size() - shown);
  }
  if (tls_) {
    std::string cipher;
    if (Status s = tls_->write(data, cipher); !s) {
      on_tls_error(s.error(), std::move(cipher));
      return;
    }
    if (!cipher.empty()) write_raw(std::move(cipher));
    return;
  }
  write_raw(std::move(data));
}

void Connection::write_raw(std::string data) {
  if (finished_ || data.empty()) return;
  queued_bytes_ += data.size();
  out_.push(std::move(data));
  if (write_inflight_) {  // on_write() sends the rest
    if (queued_bytes_ >= limits_.output_high_water) above_high_water_ = true;
    return;
  }
  // Replies produced by the same iteration (pipelined commands, a TLS handshake flight followed
  // by a greeting) leave together at the loop's next idle phase; while input is paused (a command
  // still running, e.g. RETR's "+OK" before its body) they wait for resume_input() or close().
  // A lot of output goes now: it gains nothing from waiting and the session is about to check
  // over_high_water().
  if (out_.bytes() < std::min(kBatchLimit, limits_.output_high_water)) {
    if (!paused_) schedule_flush();
    return;
  }
  send_pending();
  if (queued_bytes_ >= limits_.output_high_water) above_high_water_ = true;
}

void Connection::schedule_flush() {
  if (flush_scheduled_ || !flush_idle_) return;
  // An active idle handle also keeps the loop from blocking in poll before it runs.
  uv_idle_start(flush_idle_.get(), &Connection::on_flush_idle);
  flush_scheduled_ = true;
}

void Connection::cancel_flush() {
  if (!flush_scheduled_) return;
  flush_scheduled_ = false;
  if (flush_idle_) uv_idle_stop(flush_idle_.get());
}

void Connection::on_flush_idle(uv_idle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (self == nullptr) {
    uv_idle_stop(handle);
    return;
  }
  guard_callback("flush", [self] {
    self->send_pending();
    self->finish_if_flushed();
  });
}

// Hands the pending output to the kernel: one writev() of what the socket takes now, and a
// uv_write (completed in on_write) for whatever it does not.
void Connection::send_pending() {
  cancel_flush();
  if (write_inflight_ || out_.empty() || !socket_ || finished_) return;
  std::array<uv_buf_t, kMaxSendBuffers> bufs;
  unsigned count = out_.gather(bufs.data(), kMaxSendBuffers);
  ++sends_issued_;
  int n = uv_try_write(socket_.stream(), bufs.data(), count);
  if (n < 0 && n != UV_EAGAIN) {
    drop_now();  // as a failed send always did: the connection is closed, queued output dropped
    return;
  }
  auto sent = static_cast<std::size_t>(n > 0 ? n : 0);
  bytes_out_ += sent;
  queued_bytes_ -= sent;
  out_.consume(sent);
  if (!out_.empty()) {
    flush();
  } else {
    release_output_hold();
  }
}

bool Connection::finish_if_flushed() {
  if (finished_ || !close_after_flush_ || write_inflight_ || !out_.empty()) return false;
  finish_close();
  return true;
}

void Connection::flush() {
  if (write_inflight_ || out_.empty() || !socket_) return;
  auto request = std::make_unique<WriteRequest>();
  request->owner = this;
  request->req.data = request.get();
  request->bytes = out_.take(request->chunks, request->bufs, kMaxSendBuffers);
  ++sends_issued_;
  int rc = uv_write(&request->req, socket_.stream(), request->bufs.data(),
                    static_cast<unsigned>(request->bufs.size()), &Connection::on_write);
  if (rc != 0) {
    queued_bytes_ -= request->bytes;
    drop_now();
    return;
  }
  write_inflight_ = true;
  inflight_ = request.release();  // libuv holds it until on_write
}

void Connection::on_write(uv_write_t* req, int status) {
  std::unique_ptr<WriteRequest> request(static_cast<WriteRequest*>(req->data));
  Connection* self = request->owner;
  if (self == nullptr) return;
  guard_callback("write", [&] { self->handle_write_done(request->bytes, status); });
}

void Connection::handle_write_done(std::size_t bytes, int status) {
  inflight_ = nullptr;
  write_inflight_ = false;
  queued_bytes_ -= bytes;
  if (finished_) return;
  if (status < 0) {
    drop_now();
    return;
  }
  bytes_out_ += bytes;
  arm_idle_timer();  // a client that is downloading is not idle
  if (!out_.empty()) {
    flush();
  } else if (close_after_flush_) {
    finish_close();
    return;
  }
  if (above_high_water_ && queued_bytes_ <= limits_.output_high_water / 2) {
    above_high_water_ = false;
    if (session_ && !closing_ &&
        !call_session("on_drain", [this] { session_->on_drain(); })) {
      return;
    }
  }
  if (!closing_) release_output_hold();
}

// ---------------------------------------------------------------- closing

void Connection::close() {
  if (finished_) return;
  if (tls_ && tls_->handshake_done() && !close_after_flush_) {
    std::string alert;
    tls_->close_notify(alert);  // a clean TLS end, so the client can tell it from truncation
    write_raw(std::move(alert));
  }
  graceful_ = true;
  closing_ = true;
  close_after_flush_ = true;
  update_reading();
  arm_idle_timer();  // a client that never reads the rest is dropped after one more idle period
  send_pending();    // nothing is left to batch with
  finish_if_flushed();
}

void Connection::abort() {
  if (finished_) return;
  if (!write_inflight_ && !out_.empty() && socket_) {
    // Output held for batching would have been sent by write() itself before batching: give it
    // that one non-blocking chance, then drop whatever the socket does not take.
    std::array<uv_buf_t, kMaxSendBuffers> bufs;
    unsigned count = out_.gather(bufs.data(), kMaxSendBuffers);
    ++sends_issued_;
    int n = uv_try_write(socket_.stream(), bufs.data(), count);
    if (n > 0) bytes_out_ += static_cast<uint64_t>(n);
  }
  drop_now();
}

void Connection::end(std::string last_line, uint64_t grace_ms) {
  if (finished_ || closing_ || ending_) return;
  ending_ = true;
  end_line_ = std::move(last_line);
  if (!paused_) {
    finish_ending();
    return;
  }
  // A command runs (a worker job, a failure delay): its reply goes first; resume_input() ends us.
  end_deadline_ = uv_now(loop_.raw()) + grace_ms;
  arm_deadline_timer();
}

void Connection::finish_ending() {
  end_deadline_ = 0;
  if (tls_ && !tls_->handshake_done()) {
    log::info("net.ended", {{"cid", std::to_string(id_)}, {"ip", peer_ip_}, {"how", "dropped: TLS handshake not done"}});
    drop_now();
    return;
  }
  log::info("net.ended", {{"cid", std::to_string(id_)}, {"ip", peer_ip_}, {"how", "closed"}});
  if (!end_line_.empty()) write(std::move(end_line_));
  close();
}

// Closes without sending anything more: the socket failed, or abort() did what it could.
void Connection::drop_now() {
  if (finished_) return;
  graceful_ = false;
  closing_ = true;
  cancel_flush();
  queued_bytes_ -= out_.bytes();
  out_.clear();
  finish_close();
}

void Connection::finish_close() {
  if (finished_) return;
  finished_ = true;
  closing_ = true;
  idle_timer_.stop();
  deadline_timer_.stop();
  deadline_armed_ = 0;
  cancel_flush();
  if (reading_ && socket_) {
    uv_read_stop(socket_.stream());
    reading_ = false;
  }
  if (session_) {
    try {
      session_->on_close();
    } catch (...) {
      log::error("net.session_error", {{"service", service_}, {"cid", std::to_string(id_)}, {"ip", peer_ip_}, {"callback", "on_close"}});
    }
  }
  // Destruction happens on the next iteration via the owner, never inside our own callbacks.
  ConnectionId id = id_;
  auto on_closed = on_closed_;
  std::weak_ptr<int> alive = alive_;
  loop_.post([alive, on_closed, id] {
    if (!alive.expired() && on_closed) on_closed(id);
  });
}

}  // namespace mailroom::core
