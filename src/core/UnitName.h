#pragma once
// systemd unit names: escaping of name components and validity, per systemd.unit(5) and
// as systemd 252's systemd-escape(1) / unit_name_is_valid() behave. Pure functions.

#include <string>
#include <string_view>

#include "util/Result.h"

namespace vigil::core {

// systemd's limit: a unit name including its suffix has at most 255 bytes.
inline constexpr std::size_t kMaxUnitNameLength = 255;

// Escapes one unit-name component exactly like `systemd-escape STRING` (without --path):
// '/' becomes '-'; every byte that is not an ASCII letter or digit, ':', '_' or '.'
// becomes "\xNN" (two lower-case hex digits, per byte, so UTF-8 sequences are escaped
// byte by byte); a leading '.' is escaped too. The mapping is injective, and the result
// contains only characters valid in unit names.
std::string escapeUnitNameComponent(std::string_view text);

// The inverse, like `systemd-escape --unescape STRING`: '-' becomes '/', "\xNN" (either
// hex case) becomes that byte, anything else is copied. EINVAL when a backslash is not
// followed by 'x' and two hex digits. One divergence: "\x00" is an error here, where
// systemd silently truncates the result at the NUL.
util::Result<std::string> unescapeUnitNameComponent(std::string_view text);

// True when `name` is a valid unit name (plain "foo.service", instance "foo@bar.service"
// or template "foo@.service"): 1..255 bytes; a known type suffix (.service, .socket,
// .target, .device, .mount, .automount, .swap, .timer, .path, .slice, .scope) after a
// non-empty prefix; the prefix consists of ASCII letters, digits and ":-_.\" plus at most
// one '@', which must not be the first character. (systemd itself also tolerates further
// '@' inside the instance string; vigil never generates such names, so they are rejected.)
bool isValidUnitName(std::string_view name);

}  // namespace vigil::core
