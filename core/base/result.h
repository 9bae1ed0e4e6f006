// Result<T>: expected failures as values (GCC 12 has no std::expected).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace mailroom {

enum class ErrorCode {
  kInvalidArgument,  // bad input from a user or client
  kNotFound,
  kAlreadyExists,
  kAuthFailed,
  kInUse,        // resource locked by someone else (e.g. a mailbox another session holds)
  kTemporary,    // retry later
  kPermanent,    // will not work without admin action
  kIo,
  kDatabase,
  kInternal,
  kUnavailable,  // the daemon (or another needed process) is not running
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;
};

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message)}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}              // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}          // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : err_(std::move(error)) {}  // NOLINT
  bool ok() const { return !err_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { assert(!ok()); return *err_; }

 private:
  std::optional<Error> err_;
};

using Status = Result<void>;

}  // namespace mailroom
