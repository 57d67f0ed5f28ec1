#include "core/UnitName.h"

#include <cerrno>

#include <fmt/format.h>

namespace vigil::core {

namespace {

bool isAsciiAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Characters systemd-escape leaves alone ('-' and '\' are valid in unit names but are
// escaped because they carry meaning: hierarchy and escape introducer).
bool keptAsIs(char c) {
  return isAsciiAlnum(c) || c == ':' || c == '_' || c == '.';
}

// Characters valid in the prefix of a unit name (systemd's VALID_CHARS).
bool validInUnitName(char c) {
  return keptAsIs(c) || c == '-' || c == '\\';
}

void appendEscaped(std::string& out, char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto byte = static_cast<unsigned char>(c);
  out += '\\';
  out += 'x';
  out += kHex[byte >> 4];
  out += kHex[byte & 0xf];
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr std::string_view kUnitTypes[] = {"service", "mount",  "swap",      "socket",
                                           "target",  "device", "automount", "timer",
                                           "path",    "slice",  "scope"};

}  // namespace

std::string escapeUnitNameComponent(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '/') {
      out += '-';
    } else if (keptAsIs(c) && !(i == 0 && c == '.')) {
      out += c;
    } else {
      appendEscaped(out, c);
    }
  }
  return out;
}

util::Result<std::string> unescapeUnitNameComponent(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '-') {
      out += '/';
    } else if (c == '\\') {
      if (text.size() - i < 4 || text[i + 1] != 'x' || hexValue(text[i + 2]) < 0 ||
          hexValue(text[i + 3]) < 0) {
        return util::fail(
            fmt::format("invalid escape sequence at offset {} in '{}'; expected \\xNN", i, text),
            EINVAL);
      }
      const char byte = static_cast<char>(hexValue(text[i + 2]) << 4 | hexValue(text[i + 3]));
      if (byte == '\0') {
        return util::fail(fmt::format("'{}' unescapes to a NUL byte", text), EINVAL);
      }
      out += byte;
      i += 3;
    } else {
      out += c;
    }
  }
  return out;
}

bool isValidUnitName(std::string_view name) {
  if (name.empty() || name.size() > kMaxUnitNameLength) return false;
  const std::size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return false;
  const std::string_view type = name.substr(dot + 1);
  bool known = false;
  for (const auto t : kUnitTypes) known |= t == type;
  if (!known) return false;
  const std::string_view prefix = name.substr(0, dot);
  std::size_t ats = 0;
  for (const char c : prefix) {
    if (c == '@') {
      ++ats;
    } else if (!validInUnitName(c)) {
      return false;
    }
  }
  if (ats > 1 || prefix.front() == '@') return false;
  return true;
}

}  // namespace vigil::core
