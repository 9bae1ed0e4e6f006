// Tests for the POP3 command line parser.
#include <doctest/doctest.h>

#include <string>

#include "modules/pop3/command.h"

using mailroom::pop3::parse_command;

TEST_CASE("command keywords are case-insensitive and upper-cased") {
  auto cmd = parse_command("sTaT");
  REQUIRE(cmd.ok());
  CHECK(cmd->verb == "STAT");
  CHECK(cmd->args.empty());
  CHECK(cmd->raw_arg.empty());

  auto top = parse_command("top 1 10");
  REQUIRE(top.ok());
  CHECK(top->verb == "TOP");
  REQUIRE(top->args.size() == 2);
  CHECK(top->args[0] == "1");
  CHECK(top->args[1] == "10");
  CHECK(top->raw_arg == "1 10");
}

TEST_CASE("repeated and trailing spaces between arguments are tolerated") {
  auto cmd = parse_command("TOP  1   5 ");
  REQUIRE(cmd.ok());
  REQUIRE(cmd->args.size() == 2);
  CHECK(cmd->args[0] == "1");
  CHECK(cmd->args[1] == "5");

  auto stat = parse_command("STAT ");
  REQUIRE(stat.ok());
  CHECK(stat->args.empty());
}

TEST_CASE("PASS keeps its argument whole, spaces included") {
  auto cmd = parse_command("PASS  my secret  pass ");
  REQUIRE(cmd.ok());
  CHECK(cmd->verb == "PASS");
  CHECK(cmd->raw_arg == " my secret  pass ");
  REQUIRE(cmd->args.size() == 1);
  CHECK(cmd->args[0] == " my secret  pass ");

  // Many words in a password are not "too many arguments".
  auto many = parse_command("pass a b c d e f g h i j k");
  REQUIRE(many.ok());
  CHECK(many->raw_arg == "a b c d e f g h i j k");
}

TEST_CASE("USER argument is the raw login") {
  auto cmd = parse_command("user Bob%Example.com");
  REQUIRE(cmd.ok());
  CHECK(cmd->verb == "USER");
  CHECK(cmd->raw_arg == "Bob%Example.com");
}

TEST_CASE("bad keywords are rejected") {
  CHECK_FALSE(parse_command("").ok());
  CHECK_FALSE(parse_command("ST").ok());
  CHECK_FALSE(parse_command("STATS").ok());
  CHECK_FALSE(parse_command("4TAT").ok());  // digits only after the first letter (RFC 6856's UTF8)
  CHECK(parse_command("utf8").value().verb == "UTF8");
  CHECK_FALSE(parse_command(" STAT").ok());
  CHECK_FALSE(parse_command("RETR\t1").ok());
  auto err = parse_command("X");
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().code == mailroom::ErrorCode::kInvalidArgument);
  CHECK(err.error().message == "invalid command keyword");
  // Non-ASCII letters are not letters.
  CHECK_FALSE(parse_command("ST\xc3\x84T").ok());
}

TEST_CASE("NUL and other control bytes are rejected anywhere in the line") {
  using namespace std::string_literals;
  CHECK_FALSE(parse_command("ST\0T"s).ok());
  CHECK_FALSE(parse_command("USER bob\0@x"s).ok());
  CHECK_FALSE(parse_command("PASS se\rcret").ok());
  CHECK_FALSE(parse_command("LIST 1\x7f").ok());
  auto err = parse_command("PASS a\0b"s);
  REQUIRE_FALSE(err.ok());
  CHECK(err.error().message == "control characters are not allowed");
}

TEST_CASE("more than eight arguments are rejected, eight are fine") {
  auto eight = parse_command("LIST 1 2 3 4 5 6 7 8");
  REQUIRE(eight.ok());
  CHECK(eight->args.size() == 8);
  auto nine = parse_command("LIST 1 2 3 4 5 6 7 8 9");
  REQUIRE_FALSE(nine.ok());
  CHECK(nine.error().message == "too many arguments");
}

TEST_CASE("long arguments are kept intact") {
  const std::string arg(5000, 'x');
  auto cmd = parse_command("UIDL " + arg);
  REQUIRE(cmd.ok());
  REQUIRE(cmd->args.size() == 1);
  CHECK(cmd->args[0] == arg);
}

TEST_CASE("secret commands are recognised case-insensitively") {
  CHECK(mailroom::pop3::is_secret_command("PASS"));
  CHECK(mailroom::pop3::is_secret_command("pass"));
  CHECK(mailroom::pop3::is_secret_command("APOP"));
  CHECK(mailroom::pop3::is_secret_command("AUTH"));
  CHECK_FALSE(mailroom::pop3::is_secret_command("USER"));
  CHECK_FALSE(mailroom::pop3::is_secret_command("RETR"));
}
