// The mailctl side of the daemon's control socket (DATA/run/control.sock, docs/control.md): one
// request, one reply, with a timeout (never hangs on a stuck daemon).
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

#include "core/base/result.h"

namespace mailroom::cli {

// Sends `request` ({"command": ...}) to the daemon serving `data_dir` and returns the reply's
// fields (with "ok"). Errors: kUnavailable "mailroomd is not running ..." when nothing listens on
// the socket; the daemon's own errors with their code; kTemporary when no reply came within
// `timeout_seconds`.
Result<nlohmann::ordered_json> control_request(const std::string& data_dir, const nlohmann::ordered_json& request,
                                               int timeout_seconds);

}  // namespace mailroom::cli
