// "Did you mean ...?": the edit distance, the nearest name, and what a command line that does not
// parse is told (admin-cli/suggest.h, admin-cli/command_tree.h).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "admin-cli/command_tree.h"
#include "admin-cli/suggest.h"

using namespace mailroom::cli;

TEST_CASE("edit distance counts insertions, deletions, substitutions and swaps") {
  CHECK(edit_distance("", "") == 0);
  CHECK(edit_distance("list", "list") == 0);
  CHECK(edit_distance("lst", "list") == 1);
  CHECK(edit_distance("lsit", "list") == 1);  // a swap is one edit
  CHECK(edit_distance("lisst", "list") == 1);
  CHECK(edit_distance("lest", "list") == 1);
  CHECK(edit_distance("", "add") == 3);
  CHECK(edit_distance("remove", "") == 6);
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("abc", "xyz") == 3);
}

TEST_CASE("the nearest name is suggested only when it is near enough") {
  const std::vector<std::string> commands = {"add", "remove", "show", "passwd", "enable", "disable", "list"};
  CHECK(nearest_name("lst", commands) == "list");
  CHECK(nearest_name("lsit", commands) == "list");
  CHECK(nearest_name("remvoe", commands) == "remove");
  CHECK(nearest_name("dsable", commands) == "disable");
  CHECK(nearest_name("passwrd", commands) == "passwd");
  CHECK_FALSE(nearest_name("frobnicate", commands));
  CHECK_FALSE(nearest_name("xyz", commands));
  CHECK_FALSE(nearest_name("", commands));
  CHECK_FALSE(nearest_name("list", commands));  // not a typo
  CHECK(nearest_name("--pasword", {"--password", "--password-stdin", "--password-hash", "--json"}) == "--password");
  CHECK(nearest_name("--jsno", {"--data", "--json", "--help"}) == "--json");
}

TEST_CASE("a unique start of a name is completed; an ambiguous one is not") {
  const std::vector<std::string> groups = {"init", "postoffice", "mailbox", "deliver", "service", "cert"};
  CHECK(nearest_name("postof", groups) == "postoffice");
  CHECK(nearest_name("mailb", groups) == "mailbox");
  CHECK_FALSE(nearest_name("zz", groups));
  CHECK_FALSE(nearest_name("s", {"show", "set", "status"}));
}

TEST_CASE("ties go to the earlier candidate, and over-long words get no suggestion") {
  CHECK(nearest_name("sat", {"set", "sit"}) == "set");
  CHECK_FALSE(nearest_name(std::string(kMaxSuggestLength + 1, 'a'), {"a"}));
}

namespace {

// A tree shaped like mailctl's: global options falling through, groups needing a command.
struct Tree {
  CLI::App app{"test", "mailctl"};
  std::string data, address, password;
  bool json = false;
  Tree() {
    app.fallthrough();
    app.require_subcommand(1);
    app.add_option("--data", data, "dir");
    app.add_flag("--json", json, "json");
    CLI::App* mailbox = app.add_subcommand("mailbox", "mailboxes");
    mailbox->require_subcommand(1);
    CLI::App* add = mailbox->add_subcommand("add", "add one");
    add->add_option("ADDRESS", address)->required();
    add->add_option("--password", password, "pw");
    mailbox->add_subcommand("list", "list them");
    mailbox->add_subcommand("remove", "remove one");
    app.add_subcommand("postoffice", "postoffices")->require_subcommand(1);
  }
};

}  // namespace

TEST_CASE("a mistyped command is named with the level where parsing stopped") {
  Tree t;
  CHECK(explain_parse_failure(t.app, {"mailbox", "lst"}) ==
        "unknown command 'lst' for 'mailctl mailbox' (did you mean 'list'?)");
  CHECK(explain_parse_failure(t.app, {"--data", "/x", "mailbx", "list"}) ==
        "unknown command 'mailbx' for 'mailctl' (did you mean 'mailbox'?)");
  // A flag takes no value: the next word is still a command.
  CHECK(explain_parse_failure(t.app, {"--json", "mailbox", "lst"}) ==
        "unknown command 'lst' for 'mailctl mailbox' (did you mean 'list'?)");
  CHECK(explain_parse_failure(t.app, {"mailbox", "frobnicate"}) ==
        "unknown command 'frobnicate' for 'mailctl mailbox' (commands: add, list, remove)");
}

TEST_CASE("a mistyped option is named with the command it was given to") {
  Tree t;
  CHECK(explain_parse_failure(t.app, {"mailbox", "add", "a@b.test", "--pasword", "x"}) ==
        "unknown option '--pasword' for 'mailctl mailbox add' (did you mean '--password'?)");
  CHECK(explain_parse_failure(t.app, {"mailbox", "list", "--jsno"}) ==
        "unknown option '--jsno' for 'mailctl mailbox list' (did you mean '--json'?)");
  CHECK(explain_parse_failure(t.app, {"--zzzzzz"}) == "unknown option '--zzzzzz' for 'mailctl' (see 'mailctl --help')");
  CHECK(explain_parse_failure(t.app, {"mailbox", "add", "--password=lst", "a@b.test"}) == std::nullopt);
}

TEST_CASE("a group without a command lists its commands; a good line gets no explanation") {
  Tree t;
  CHECK(explain_parse_failure(t.app, {"mailbox"}) == "'mailctl mailbox' needs a command: add, list, remove");
  CHECK(explain_parse_failure(t.app, {}) == "'mailctl' needs a command: mailbox, postoffice");
  // A value that looks like a command is the option's value, not a command.
  CHECK(explain_parse_failure(t.app, {"--data", "lst", "mailbox", "list"}) == std::nullopt);
  // A missing argument is not for this explanation (CLI11 says it).
  CHECK(explain_parse_failure(t.app, {"mailbox", "add"}) == std::nullopt);
  CHECK(explain_parse_failure(t.app, {"mailbox", "add", "--", "--weird"}) == std::nullopt);
}
