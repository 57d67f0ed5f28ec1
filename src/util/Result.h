#pragma once
// The single error model of vigil: every fallible runtime operation returns Result<T>.
// Exceptions are reserved for startup (argument parsing) and programmer errors.

#include <cerrno>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <tl/expected.hpp>

namespace vigil::util {

// An error value: an errno-style code (0 when none applies), an optional D-Bus style
// name (e.g. "org.freedesktop.systemd1.UnitExists"), and a human message. context()
// prepends what the caller was doing, so messages read outermost-first:
// "starting 'vigil-web-api.service': StartTransientUnit: Unit ... already exists".
class Error {
 public:
  Error() = default;
  explicit Error(std::string message, int code = 0, std::string name = {})
      : message_(std::move(message)), code_(code), name_(std::move(name)) {}

  const std::string& message() const { return message_; }
  int code() const { return code_; }
  const std::string& name() const { return name_; }

  Error& context(std::string_view what) & {
    message_ = std::string(what) + ": " + message_;
    return *this;
  }
  Error&& context(std::string_view what) && {
    message_ = std::string(what) + ": " + message_;
    return std::move(*this);
  }

 private:
  std::string message_;
  int code_ = 0;
  std::string name_;
};

template <typename T>
using Result = tl::expected<T, Error>;

inline tl::unexpected<Error> fail(std::string message, int code = 0, std::string name = {}) {
  return tl::unexpected<Error>(Error(std::move(message), code, std::move(name)));
}

// errno-based failure: "<what>: <strerror(code)>".
inline tl::unexpected<Error> sysFail(int code, std::string_view what) {
  return tl::unexpected<Error>(
      Error(std::string(what) + ": " + std::generic_category().message(code), code));
}

}  // namespace vigil::util
