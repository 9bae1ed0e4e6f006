// The bounce builder (storage/queue/bounce_message): the output parsed back as a MIME
// multipart/report, the DSN fields, the header excerpt, and no header injection.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "storage/queue/bounce_message.h"

using namespace mailroom;
using namespace mailroom::storage;

namespace {

struct Part {
  std::map<std::string, std::string> headers;  // lower-case name -> value (unfolded)
  std::string body;
};

// Header lines up to the first empty line -> fields (continuations unfolded); body after it.
Part parse_entity(const std::string& text) {
  Part p;
  std::size_t end = text.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  std::string head = text.substr(0, end + 2);
  p.body = text.substr(end + 4);
  std::string last;
  std::size_t pos = 0;
  while (pos < head.size()) {
    std::size_t eol = head.find("\r\n", pos);
    REQUIRE(eol != std::string::npos);
    std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    if (!line.empty() && (line[0] == ' ' || line[0] == '\t')) {
      REQUIRE(!last.empty());
      p.headers[last] += " " + line.substr(1);
      continue;
    }
    std::size_t colon = line.find(':');
    REQUIRE(colon != std::string::npos);
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(p.headers.count(name) == 0);  // every field once
    p.headers[name] = line.substr(colon + 2);
    last = name;
  }
  return p;
}

BounceRequest sample() {
  BounceRequest r;
  r.entry.id = "1796475301.M1P2Q3.mail";
  r.entry.sender = "alice@example.test";
  r.entry.queued_at = 1796475301;
  r.entry.last_attempt_at = 1796475400;
  r.failed = {{"bob@remote.test", "550 5.1.1 <bob@remote.test>: no such user"},
              {"carol@remote.test", ""}};
  r.host = "mail.example.test";
  r.reason = bounce_reason_refused();
  r.now = 1796475500;
  r.original_header = bounce_header_excerpt(
      "From: alice@example.test\nTo: bob@remote.test\nSubject: lunch\n\nsecret body\n");
  return r;
}

}  // namespace

TEST_CASE("bounce: a multipart/report with a human part, delivery-status and the headers") {
  auto text = build_bounce_message(sample());
  REQUIRE(text);
  // Every line ends in CRLF and stays under 998 octets.
  for (std::size_t pos = 0; pos < text->size();) {
    std::size_t eol = text->find("\r\n", pos);
    REQUIRE(eol != std::string::npos);
    CHECK(eol - pos < 998);
    CHECK(text->substr(pos, eol - pos).find('\n') == std::string::npos);
    pos = eol + 2;
  }
  Part top = parse_entity(*text);
  CHECK(top.headers["from"] == "Mail Delivery System <MAILER-DAEMON@mail.example.test>");
  CHECK(top.headers["to"] == "<alice@example.test>");
  CHECK(top.headers["subject"] == "Undelivered Mail Returned to Sender");
  CHECK(top.headers["auto-submitted"] == "auto-replied");
  CHECK(top.headers["mime-version"] == "1.0");
  const std::string& ct = top.headers["content-type"];
  CHECK(ct.find("multipart/report") == 0);
  CHECK(ct.find("report-type=delivery-status") != std::string::npos);
  std::size_t b = ct.find("boundary=\"");
  REQUIRE(b != std::string::npos);
  std::string boundary = ct.substr(b + 10, ct.find('"', b + 10) - (b + 10));
  REQUIRE(!boundary.empty());

  // Split the body into its parts.
  const std::string delim = "\r\n--" + boundary;
  std::string body = "\r\n" + top.body;
  std::vector<std::string> parts;
  std::size_t pos = body.find(delim);
  REQUIRE(pos != std::string::npos);
  while (true) {
    pos += delim.size();
    if (body.compare(pos, 2, "--") == 0) break;  // the closing delimiter
    REQUIRE(body.compare(pos, 2, "\r\n") == 0);
    pos += 2;
    std::size_t next = body.find(delim, pos);
    REQUIRE(next != std::string::npos);
    parts.push_back(body.substr(pos, next - pos));
    pos = next;
  }
  REQUIRE(parts.size() == 3);

  Part human = parse_entity(parts[0]);
  CHECK(human.headers["content-type"].find("text/plain") == 0);
  CHECK(human.body.find("refused by the smarthost") != std::string::npos);
  CHECK(human.body.find("<bob@remote.test>: 550 5.1.1") != std::string::npos);

  Part dsn = parse_entity(parts[1]);
  CHECK(dsn.headers["content-type"] == "message/delivery-status");
  CHECK(dsn.body.find("Reporting-MTA: dns; mail.example.test\r\n") == 0);
  CHECK(dsn.body.find("Final-Recipient: rfc822; bob@remote.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
                      "Diagnostic-Code: smtp; 550 5.1.1 <bob@remote.test>: no such user\r\n") != std::string::npos);
  CHECK(dsn.body.find("Final-Recipient: rfc822; carol@remote.test\r\nAction: failed\r\nStatus: 5.0.0\r\n") !=
        std::string::npos);

  Part headers = parse_entity(parts[2] + "\r\n");
  CHECK(headers.headers["content-type"] == "text/rfc822-headers");
  CHECK(headers.body.find("Subject: lunch\r\n") != std::string::npos);
  CHECK(text->find("secret body") == std::string::npos);  // never the original body
}

TEST_CASE("bounce: expiry reason and status; no sender or nobody failed -> no bounce") {
  auto r = sample();
  r.reason = bounce_reason_expired(5 * 86400);
  CHECK(r.reason == "not delivered within queue_lifetime (5 days)");
  CHECK(bounce_reason_expired(86400) == "not delivered within queue_lifetime (1 day)");
  r.failed = {{"bob@remote.test", "451 try again"}};
  auto text = build_bounce_message(r);
  REQUIRE(text);
  CHECK(text->find("Status: 4.4.7\r\n") != std::string::npos);
  CHECK(text->find("queue_lifetime (5 days)") != std::string::npos);

  r.entry.sender = "";
  CHECK(build_bounce_message(r).error().code == ErrorCode::kInvalidArgument);
  r = sample();
  r.failed.clear();
  CHECK_FALSE(build_bounce_message(r));
}

TEST_CASE("bounce: a reply or address with line breaks cannot add header fields") {
  auto r = sample();
  r.entry.sender = "alice@example.test\r\nBcc: victim@example.test";
  r.failed = {{"bob@remote.test\r\nX-Evil: 1", "550 no\r\nX-Evil: 2"}};
  auto text = build_bounce_message(r);
  REQUIRE(text);
  CHECK(text->find("\r\nBcc:") == std::string::npos);
  CHECK(text->find("\r\nX-Evil") == std::string::npos);
}

TEST_CASE("bounce_header_excerpt: up to the empty line, whole lines, 16 KiB at most, CRLF") {
  CHECK(bounce_header_excerpt("A: 1\nB: 2\r\n\nbody\n") == "A: 1\r\nB: 2\r\n");
  CHECK(bounce_header_excerpt("A: 1\nB: partial") == "A: 1\r\n");
  std::string big;
  for (int i = 0; i < 1000; ++i) big += "X-Long: " + std::string(40, 'x') + "\n";
  std::string cut = bounce_header_excerpt(big);
  CHECK(cut.size() <= kBounceHeaderExcerptBytes);
  CHECK(cut.size() > kBounceHeaderExcerptBytes - 60);
  CHECK(cut.ends_with("\r\n"));
}
