// smtpload — a small, single-threaded SMTP/LMTP delivery load generator (epoll, plain TCP).
//
// Each of --concurrency connections reads the greeting, says EHLO (smtp) or LHLO (lmtp), then
// runs transactions back to back on that one connection, one command and one reply at a time
// (no PIPELINING):
//   MAIL FROM:<--from>, --rcpts-per-msg x RCPT TO:<...> (distinct addresses, taken round robin
//   from --rcpts so the load spreads over every mailbox), DATA, a --size byte message, '.', then
//   the final reply: one for SMTP, one per recipient for LMTP (RFC 2033).
// A message counts as delivered when every final reply is 2xx. Any other reply, a closed
// connection or a timeout aborts the whole run with a message on stderr and exit status 3
// (a benchmark figure with refused mail in it would be meaningless).
// Bounded: no new transaction after --messages were started or --duration seconds passed; the
// connections then QUIT; anything still unanswered --grace seconds later is an error.
// Output: one JSON object on stdout, including the generator's own CPU seconds.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "clocks.h"

namespace {

[[noreturn]] void fail(const std::string& what) {
  fprintf(stderr, "smtpload: %s\n", what.c_str());
  fflush(stderr);
  exit(3);
}

struct Opts {
  std::string host = "127.0.0.1";
  int port = 25;
  std::string proto = "smtp";  // smtp | lmtp
  std::string rcpts_file;
  std::string domain;  // appended as @domain to list entries without '@'
  std::string from = "loadgen@sender.bench.test";
  std::string helo = "loadgen.bench.test";
  int concurrency = 1;
  int rcpts_per_msg = 1;
  long messages = 1000000;
  double duration = 10;
  double grace = 30;
  long size = 4096;
  long rcpt_offset = 0;
};

void usage() {
  fprintf(stderr,
          "usage: smtpload --proto smtp|lmtp --host H --port P --rcpts FILE [--domain D]\n"
          "  [-c N] [--rcpts-per-msg N] [--messages N] [--duration S] [--grace S]\n"
          "  [--size BYTES] [--from ADDR] [--helo NAME] [--rcpt-offset N]\n"
          "  --rcpts: one recipient per line (first word; '#' comments); --domain D makes 'x' x@D\n");
  exit(2);
}

Opts parse(int argc, char** argv) {
  Opts o;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto need = [&]() -> std::string {
      if (i + 1 >= argc) usage();
      return argv[++i];
    };
    if (a == "--host") o.host = need();
    else if (a == "--port") o.port = atoi(need().c_str());
    else if (a == "--proto") o.proto = need();
    else if (a == "--rcpts") o.rcpts_file = need();
    else if (a == "--domain") o.domain = need();
    else if (a == "--from") o.from = need();
    else if (a == "--helo") o.helo = need();
    else if (a == "--concurrency" || a == "-c") o.concurrency = atoi(need().c_str());
    else if (a == "--rcpts-per-msg") o.rcpts_per_msg = atoi(need().c_str());
    else if (a == "--messages" || a == "-n") o.messages = atol(need().c_str());
    else if (a == "--duration") o.duration = atof(need().c_str());
    else if (a == "--grace") o.grace = atof(need().c_str());
    else if (a == "--size") o.size = atol(need().c_str());
    else if (a == "--rcpt-offset") o.rcpt_offset = atol(need().c_str());
    else usage();
  }
  if ((o.proto != "smtp" && o.proto != "lmtp") || o.rcpts_file.empty() || o.concurrency < 1 ||
      o.rcpts_per_msg < 1 || o.size < 256)
    usage();
  return o;
}

// "Message-ID: <%010ld.%04d@loadgen.bench.test>\r\n", the one header that varies.
constexpr size_t kMessageIdLine = 46;

// The message body: --size bytes of CRLF lines, already dot-stuffed for the wire (one line starts
// with a dot, as real mail sometimes does), ending with the "." line. Only the Message-ID varies.
std::string make_body(const Opts& o, size_t* unstuffed_bytes) {
  std::string h =
      "From: Load Generator <" + o.from + ">\r\n"
      "To: bench recipients <undisclosed-recipients@bench.test>\r\n"
      "Subject: delivery benchmark message\r\n"
      "Date: Sat, 5 Dec 2026 12:00:00 +0000\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=us-ascii\r\n"
      "\r\n";
  static const char* kWords[] = {"mail", "server", "queue", "relay", "inbox", "folder", "message", "header",
                                 "body", "client", "session", "delivery", "report", "meeting", "project"};
  std::string b;
  size_t total = h.size() + kMessageIdLine;
  unsigned seed = 12345;
  int n = 0;
  while (total < static_cast<size_t>(o.size)) {
    std::string line;
    if (n % 40 == 7) {
      line = ". a line starting with a dot (dot-stuffed on the wire)";
    } else {
      while (line.size() < 70) {
        seed = seed * 1103515245u + 12345u;
        line += kWords[(seed >> 16) % (sizeof kWords / sizeof *kWords)];
        line += ' ';
      }
      line.pop_back();
    }
    total += line.size() + 2;
    if (line[0] == '.') line.insert(0, 1, '.');
    b += line + "\r\n";
    n++;
  }
  *unstuffed_bytes = total;
  return h + b + ".\r\n";
}

enum State { S_CONNECTING, S_GREETING, S_HELLO, S_MAIL, S_RCPT, S_DATA, S_FINAL, S_QUIT };
const char* state_name(State s) {
  static const char* names[] = {"connect", "greeting", "hello", "MAIL", "RCPT", "DATA", "end of data", "QUIT"};
  return names[s];
}

struct Conn {
  int id = 0;
  int fd = -1;
  State st = S_CONNECTING;
  std::string in, out, last_cmd;
  std::vector<size_t> rcpts;  // this transaction's recipients (indexes into Gen::rcpts)
  int rcpt_next = 0;          // RCPT commands sent so far
  int finals_left = 0;        // final replies still due after the data
  double t_tx = 0;            // when this transaction's MAIL FROM was sent
  bool want_out = false;
  bool done = false;
  ~Conn() {
    if (fd >= 0) close(fd);
  }
};

struct Gen {
  Opts o;
  sockaddr_in sa{};
  int ep = -1;
  std::vector<std::string> rcpts;
  std::vector<std::unique_ptr<Conn>> conns;
  std::string body;
  size_t msg_bytes = 0;
  size_t next_rcpt = 0;
  long tx_started = 0, delivered = 0, rcpt_deliveries = 0, seq = 0;
  int open_conns = 0;
  std::vector<double> lat;
  double t_start = 0, t_last = 0, deadline = 0;

  void load_rcpts() {
    std::ifstream f(o.rcpts_file);
    if (!f) fail("cannot read --rcpts " + o.rcpts_file);
    std::string line;
    while (std::getline(f, line)) {
      std::istringstream ss(line);
      std::string a;
      if (!(ss >> a) || a[0] == '#') continue;
      if (a.find('@') == std::string::npos && !o.domain.empty()) a += "@" + o.domain;
      rcpts.push_back(a);
    }
    if (rcpts.size() < static_cast<size_t>(o.rcpts_per_msg))
      fail("--rcpts has fewer addresses than --rcpts-per-msg");
    next_rcpt = o.rcpt_offset % rcpts.size();
  }

  [[noreturn]] void conn_fail(Conn& c, const std::string& what) {
    fail("connection " + std::to_string(c.id) + " (" + o.proto + " port " + std::to_string(o.port) + ", " +
         state_name(c.st) + (c.last_cmd.empty() ? "" : ", after '" + c.last_cmd + "'") + "): " + what);
  }

  void set_out(Conn& c, bool want) {
    if (want == c.want_out) return;
    epoll_event e{};
    e.events = EPOLLIN | (want ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    e.data.u32 = static_cast<uint32_t>(c.id);
    epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
    c.want_out = want;
  }

  void flush(Conn& c) {
    while (!c.out.empty()) {
      ssize_t w = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN) break;
        conn_fail(c, std::string("write: ") + strerror(errno));
      }
      c.out.erase(0, static_cast<size_t>(w));
    }
    set_out(c, !c.out.empty());
  }

  void command(Conn& c, const std::string& line) {
    c.last_cmd = line;
    c.out += line + "\r\n";
    flush(c);
  }

  bool may_start_transaction() const { return tx_started < o.messages && now_s() < deadline; }

  void start_transaction(Conn& c) {
    if (!may_start_transaction()) {
      c.st = S_QUIT;
      command(c, "QUIT");
      return;
    }
    tx_started++;
    c.rcpts.clear();
    for (int i = 0; i < o.rcpts_per_msg; i++) {
      c.rcpts.push_back(next_rcpt);
      next_rcpt = (next_rcpt + 1) % rcpts.size();
    }
    c.rcpt_next = 0;
    c.t_tx = now_s();
    c.st = S_MAIL;
    command(c, "MAIL FROM:<" + o.from + ">");
  }

  // One complete reply (all its lines) arrived: code is its 3-digit code, text its last line.
  void on_reply(Conn& c, int code, const std::string& text) {
    auto expect = [&](int want) {
      if (code != want) conn_fail(c, "unexpected reply '" + text + "' (wanted " + std::to_string(want) + ")");
    };
    switch (c.st) {
      case S_GREETING:
        expect(220);
        c.st = S_HELLO;
        command(c, (o.proto == "lmtp" ? "LHLO " : "EHLO ") + o.helo);
        return;
      case S_HELLO:
        expect(250);
        start_transaction(c);
        return;
      case S_MAIL:
      case S_RCPT:
        expect(250);
        if (c.rcpt_next < o.rcpts_per_msg) {
          c.st = S_RCPT;
          command(c, "RCPT TO:<" + rcpts[c.rcpts[c.rcpt_next++]] + ">");
        } else {
          c.st = S_DATA;
          command(c, "DATA");
        }
        return;
      case S_DATA:
        expect(354);
        c.st = S_FINAL;
        c.finals_left = o.proto == "lmtp" ? o.rcpts_per_msg : 1;
        c.last_cmd = "<message data>.";
        char mid[64];
        snprintf(mid, sizeof mid, "Message-ID: <%010ld.%04d@loadgen.bench.test>\r\n", ++seq, c.id % 10000);
        c.out += mid;
        c.out.append(body);
        flush(c);
        return;
      case S_FINAL:
        if (code / 100 != 2) conn_fail(c, "message refused: '" + text + "'");
        if (--c.finals_left > 0) return;
        delivered++;
        rcpt_deliveries += o.rcpts_per_msg;
        t_last = now_s();
        lat.push_back(t_last - c.t_tx);
        start_transaction(c);
        return;
      case S_QUIT:
        expect(221);
        c.done = true;
        return;
      case S_CONNECTING:
        conn_fail(c, "reply before the connection was up");
    }
  }

  // Split c.in into replies; a reply ends with a line whose 4th character is not '-'.
  void parse(Conn& c) {
    size_t pos = 0;
    for (;;) {
      size_t e = c.in.find("\r\n", pos);
      if (e == std::string::npos) break;
      std::string line = c.in.substr(pos, e - pos);
      pos = e + 2;
      if (line.size() < 3 || !isdigit(static_cast<unsigned char>(line[0])))
        conn_fail(c, "malformed reply line '" + line + "'");
      if (line.size() > 3 && line[3] == '-') continue;
      on_reply(c, atoi(line.substr(0, 3).c_str()), line);
      if (c.done) break;
    }
    c.in.erase(0, pos);
  }

  void on_event(Conn& c, uint32_t ev) {
    if (c.st == S_CONNECTING) {
      int e = 0;
      socklen_t l = sizeof e;
      getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &e, &l);
      if (e) conn_fail(c, std::string("connect: ") + strerror(e));
      if (!(ev & EPOLLOUT)) return;
      c.st = S_GREETING;
      set_out(c, false);
    }
    if ((ev & EPOLLOUT) && !c.out.empty()) flush(c);
    if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    char buf[16384];
    for (;;) {
      ssize_t r = ::recv(c.fd, buf, sizeof buf, 0);
      if (r < 0) {
        if (errno == EAGAIN) break;
        conn_fail(c, std::string("read: ") + strerror(errno));
      }
      if (r == 0) conn_fail(c, "connection closed by the server");
      c.in.append(buf, static_cast<size_t>(r));
      parse(c);
      if (c.done) {
        epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
        c.fd = -1;
        open_conns--;
        return;
      }
      if (static_cast<size_t>(r) < sizeof buf) break;
    }
  }

  void open_connection(int id) {
    auto c = std::make_unique<Conn>();
    c->id = id;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) fail(std::string("socket: ") + strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event e{};
    e.events = EPOLLIN | EPOLLOUT;
    e.data.u32 = static_cast<uint32_t>(id);
    c->want_out = true;
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
    if (connect(c->fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 && errno != EINPROGRESS)
      conn_fail(*c, std::string("connect: ") + strerror(errno));
    conns.push_back(std::move(c));
    open_conns++;
  }

  int run() {
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(o.port));
    if (inet_pton(AF_INET, o.host.c_str(), &sa.sin_addr) != 1) fail("--host must be a numeric IPv4 address");
    load_rcpts();
    body = make_body(o, &msg_bytes);
    signal(SIGPIPE, SIG_IGN);
    ep = epoll_create1(0);
    double c0 = cpu_s();
    t_start = t_last = now_s();
    deadline = t_start + o.duration;
    for (int i = 0; i < o.concurrency; i++) open_connection(i);
    std::vector<epoll_event> evs(256);
    while (open_conns > 0) {
      if (now_s() > deadline + o.grace) {
        for (auto& c : conns)
          if (c->fd >= 0) conn_fail(*c, "no reply within --grace " + std::to_string(o.grace) + " s after the end");
      }
      int n = epoll_wait(ep, evs.data(), static_cast<int>(evs.size()), 100);
      for (int i = 0; i < n; i++) {
        Conn& c = *conns[evs[i].data.u32];
        if (c.fd >= 0) on_event(c, evs[i].events);
      }
    }
    double el = t_last - t_start;
    double ccpu = cpu_s() - c0;
    report(el, ccpu);
    return 0;
  }

  void report(double el, double ccpu) {
    std::sort(lat.begin(), lat.end());
    auto pct = [&](double p) { return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))] * 1e3; };
    double rate = el > 0 ? delivered / el : 0.0;
    printf("{\"mode\":\"deliver\",\"proto\":\"%s\",\"port\":%d,\"concurrency\":%d,\"rcpts_per_msg\":%d,"
           "\"msg_bytes\":%zu,\"wire_bytes\":%zu,\"messages\":%ld,\"rcpt_deliveries\":%ld,"
           "\"completed\":%ld,\"failed\":0,\"elapsed_s\":%.4f,\"msgs_per_s\":%.2f,\"rcpt_per_s\":%.2f,"
           "\"sessions_per_s\":%.2f,",
           o.proto.c_str(), o.port, o.concurrency, o.rcpts_per_msg, msg_bytes, body.size() + kMessageIdLine, delivered,
           rcpt_deliveries, delivered, el, rate, el > 0 ? rcpt_deliveries / el : 0.0, rate);
    printf("\"lat_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f},", pct(0.5), pct(0.9), pct(0.99),
           lat.empty() ? 0.0 : lat.back() * 1e3);
    printf("\"client_cpu_s\":%.3f,\"client_cpu_pct\":%.1f}\n", ccpu, el > 0 ? ccpu / el * 100 : 0.0);
    fflush(stdout);
  }
};

}  // namespace

int main(int argc, char** argv) {
  Gen g;
  g.o = parse(argc, argv);
  return g.run();
}
