#include "config/ConfigError.h"

#include <fmt/format.h>

namespace vigil::config {

namespace {

std::string source(const ConfigError& e) {
  if (!e.where.file.empty()) {
    std::string out = e.where.file;
    if (e.where.line > 0) {
      out += fmt::format(":{}", e.where.line);
      if (e.where.column > 0) out += fmt::format(":{}", e.where.column);
    }
    return out + ": ";
  }
  if (!e.environment.empty()) return fmt::format("environment variable {}: ", e.environment);
  return "";
}

std::string rest(const ConfigError& e) {
  return (e.key.empty() ? std::string() : e.key + ": ") + e.message;
}

}  // namespace

std::string ConfigError::format() const {
  return source(*this) + rest(*this);
}

std::string ConfigError::formatWarning() const {
  return source(*this) + "warning: " + rest(*this);
}

std::string formatErrors(const ConfigErrors& errors, std::size_t max_shown) {
  std::string out;
  for (std::size_t i = 0; i < errors.size() && i < max_shown; ++i) out += errors[i].format() + "\n";
  if (errors.size() > max_shown) {
    const std::size_t more = errors.size() - max_shown;
    out += fmt::format("{} more error{} not shown\n", more, more == 1 ? "" : "s");
  }
  return out;
}

std::string formatWarnings(const ConfigErrors& warnings) {
  std::string out;
  for (const auto& w : warnings) out += w.formatWarning() + "\n";
  return out;
}

}  // namespace vigil::config
