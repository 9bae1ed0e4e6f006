// The one error -> exit code mapping scripts rely on (admin-cli/output.h, docs/mailctl.md).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "admin-cli/output.h"

using namespace mailroom;
using namespace mailroom::cli;

TEST_CASE("exit codes: 1 error, 3 not running, 4 not found, 5 already exists") {
  CHECK(kExitOk == 0);
  CHECK(kExitFailure == 1);
  CHECK(kExitUsage == 2);
  CHECK(exit_code_for(make_error(ErrorCode::kUnavailable, "")) == 3);
  CHECK(exit_code_for(make_error(ErrorCode::kNotFound, "")) == 4);
  CHECK(exit_code_for(make_error(ErrorCode::kAlreadyExists, "")) == 5);
  for (ErrorCode code : {ErrorCode::kInvalidArgument, ErrorCode::kAuthFailed, ErrorCode::kInUse, ErrorCode::kTemporary,
                         ErrorCode::kPermanent, ErrorCode::kIo, ErrorCode::kDatabase, ErrorCode::kInternal}) {
    CAPTURE(error_code_name(code));
    CHECK(exit_code_for(make_error(code, "")) == kExitFailure);
  }
  CHECK(std::string(error_code_name(ErrorCode::kUnavailable)) == "unavailable");
}

TEST_CASE("JSON values: times as RFC 3339 strings or null, settings typed by their spec") {
  CHECK(json_time(1700000000) == "2023-11-14T22:13:20Z");
  CHECK(json_time(std::nullopt).is_null());
  CHECK(json_time(0).is_null());
  const auto port = config::int_setting("port", 110, 1, 65535, "");
  const auto flag = config::bool_setting("starttls", true, "");
  const auto text = config::string_setting("banner", "", 400, "");
  CHECK(json_setting_value(port, "1110") == 1110);
  CHECK(json_setting_value(port, "1110").is_number_integer());
  CHECK(json_setting_value(flag, "on") == true);
  CHECK(json_setting_value(flag, "off") == false);
  CHECK(json_setting_value(text, "hello") == "hello");
  CHECK(json_setting_value(text, "110").is_string());
  CHECK(json_setting_value(port, "x1").is_string());  // a hand-edited value stays as it was
}
