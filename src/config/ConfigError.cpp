#include "config/ConfigError.h"

#include <fmt/format.h>

namespace vigil::config {

std::string ConfigError::format() const {
  std::string out;
  if (!where.file.empty()) {
    out += where.file;
    if (where.line > 0) {
      out += fmt::format(":{}", where.line);
      if (where.column > 0) out += fmt::format(":{}", where.column);
    }
    out += ": ";
  }
  if (!key.empty()) out += key + ": ";
  out += message;
  return out;
}

std::string formatErrors(const ConfigErrors& errors) {
  std::string out;
  for (const auto& e : errors) out += e.format() + "\n";
  return out;
}

}  // namespace vigil::config
