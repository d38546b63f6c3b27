// Errors as values. Library code returns Result<T>; only main() turns an Error into an
// exit code (README.md, exit codes): usage/config 2, runtime 1, verification 3.
#pragma once

#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace fedchain {

enum class ErrorKind {
  kConfig,        // bad job file, bad flag, bad input file named by the user: exit 2
  kRuntime,       // I/O failure, MPI failure, a peer that went away: exit 1
  kVerification,  // the chain or a checkpoint does not verify: exit 3
};

int exit_code(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::kRuntime;
  std::string message;  // says what is wrong, where (file, key, rank, height), what to do
  // A short, stable reason code for data that was refused ("bad-signature",
  // "trailing-bytes"); tests and callers branch on it, people read the message.
  std::string code;
  // Every rank of an MPI job returns this same error (node::agree), so each can end
  // normally; an error only this rank has must end the others, which may be waiting for
  // it in a collective.
  bool every_rank = false;
};

template <typename... Args>
Error config_error(fmt::format_string<Args...> format, Args&&... args) {
  return {ErrorKind::kConfig, fmt::format(format, std::forward<Args>(args)...), {}};
}
template <typename... Args>
Error runtime_error(fmt::format_string<Args...> format, Args&&... args) {
  return {ErrorKind::kRuntime, fmt::format(format, std::forward<Args>(args)...), {}};
}

// Refusing bytes or a block: what a peer sent or a file held does not check out. Never
// thrown: decoders and validators return it (as bitcoin's typed reject reasons).
template <typename... Args>
Error reject(std::string code, fmt::format_string<Args...> format, Args&&... args) {
  return {ErrorKind::kVerification, fmt::format(format, std::forward<Args>(args)...),
          std::move(code)};
}

// A value or an Error. Deliberately small: has_value(), value(), error(), and bool.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : state_(std::move(error)) {}  // NOLINT

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success, or an Error.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace fedchain
