// Tests for the Return-Path and Received header fields a delivery adds.
#include <doctest/doctest.h>

#include <cstdlib>
#include <ctime>

#include "delivery/trace_headers.h"

using namespace mailroom::delivery;

TEST_CASE("Return-Path and Received, plain, one recipient") {
  TraceInfo t;
  t.reverse_path = "sender@example.org";
  t.helo = "client.example.org";
  t.peer_ip = "192.0.2.7";
  t.hostname = "mx.example.test";
  t.with = "ESMTP";
  t.recipient = "alice@example.test";
  t.id = "17.3.1";
  t.date = "Sat, 05 Dec 2026 12:37:21 +0000";
  CHECK(trace_headers(t) ==
        "Return-Path: <sender@example.org>\r\n"
        "Received: from client.example.org ([192.0.2.7])\r\n"
        "\tby mx.example.test (Mailroom)\r\n"
        "\twith ESMTP id 17.3.1\r\n"
        "\tfor <alice@example.test>;\r\n"
        "\tSat, 05 Dec 2026 12:37:21 +0000\r\n");
}

TEST_CASE("TLS, IPv6, the null sender, several recipients, a unix-socket client") {
  TraceInfo t;
  t.helo = "mta";
  t.peer_ip = "::1";
  t.hostname = "mx";
  t.with = "LMTPS";
  t.tls_version = "TLSv1.3";
  t.tls_cipher = "TLS_AES_256_GCM_SHA384";
  t.id = "1";
  t.date = "D";
  CHECK(trace_headers(t) ==
        "Return-Path: <>\r\n"
        "Received: from mta ([IPv6:::1])\r\n"
        "\tby mx (Mailroom)\r\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384)\r\n"
        "\twith LMTPS id 1;\r\n"
        "\tD\r\n");
  t.peer_ip.clear();
  CHECK(trace_headers(t).find("Received: from mta (local socket)\r\n") != std::string::npos);
}

TEST_CASE("rfc5322_date: English names and a numeric zone, whatever the locale") {
  const char* old = std::getenv("TZ");
  const std::string saved = old ? old : "";
  setenv("TZ", "UTC", 1);
  tzset();
  CHECK(rfc5322_date(0) == "Thu, 01 Jan 1970 00:00:00 +0000");
  CHECK(rfc5322_date(1796475301) == "Sat, 05 Dec 2026 12:55:01 +0000");
  setenv("TZ", "CET-1", 1);
  tzset();
  CHECK(rfc5322_date(0) == "Thu, 01 Jan 1970 01:00:00 +0100");
  setenv("TZ", "EST5", 1);
  tzset();
  CHECK(rfc5322_date(0) == "Wed, 31 Dec 1969 19:00:00 -0500");
  if (old) {
    setenv("TZ", saved.c_str(), 1);
  } else {
    unsetenv("TZ");
  }
  tzset();
}

TEST_CASE("Received alone, without a helo (XTND XMIT)") {
  TraceInfo t;
  t.peer_ip = "192.0.2.7";
  t.hostname = "pop.example.test";
  t.with = "POP3 XTND XMIT";
  t.id = "17.3.1";
  t.date = "Sat, 05 Dec 2026 12:37:21 +0000";
  CHECK(received_header(t) ==
        "Received: from [192.0.2.7]\r\n"
        "\tby pop.example.test (Mailroom)\r\n"
        "\twith POP3 XTND XMIT id 17.3.1;\r\n"
        "\tSat, 05 Dec 2026 12:37:21 +0000\r\n");
}
