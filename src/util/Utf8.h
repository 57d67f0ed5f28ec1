#pragma once
// UTF-8 well-formedness, for text that comes from outside vigil (a probe's output, an
// error from a library) and must go where only valid UTF-8 may: a D-Bus string
// (sd_bus_message_append_basic refuses anything else, D-Bus specification "Valid
// Strings"), JSON, HTML.

#include <cstddef>
#include <string>
#include <string_view>

namespace vigil::util {

inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed UTF-8 sequence at text[i] (a lead byte >= 0x80), or, when
// it is ill-formed, 0 with *bad set to the length of its maximal ill-formed subpart (at
// least 1): Unicode 15, table 3-7 and section 3.9 ("U+FFFD Substitution of Maximal
// Subparts"). No overlong forms, no surrogates, nothing above U+10FFFF.
inline std::size_t utf8Length(std::string_view text, std::size_t i, std::size_t* bad) {
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(text[i + k]); };
  const unsigned char lead = at(0);
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lo = 0xA0;  // no overlong forms
    if (lead == 0xED) hi = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lo = 0x90;  // no overlong forms
    if (lead == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *bad = 1;  // a continuation byte, C0, C1 or F5..FF: never a lead
    return 0;
  }
  for (std::size_t k = 1; k <= need; ++k) {
    const bool ok = i + k < text.size() &&
                    (k == 1 ? at(k) >= lo && at(k) <= hi : at(k) >= 0x80 && at(k) <= 0xBF);
    if (!ok) {
      *bad = k;
      return 0;
    }
  }
  return need + 1;
}

// True when `text` is well-formed UTF-8 without a NUL byte (a D-Bus string's rule).
inline bool isValidUtf8NoNul(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t bad = 0;
    const std::size_t len = utf8Length(text, i, &bad);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// `text` with each maximal ill-formed subpart and each NUL replaced by U+FFFD.
inline std::string toValidUtf8NoNul(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == 0) {
      out += kUtf8Replacement;
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else {
      std::size_t bad = 0;
      const std::size_t len = utf8Length(text, i, &bad);
      if (len == 0) {
        out += kUtf8Replacement;
        i += bad;
      } else {
        out.append(text, i, len);
        i += len;
      }
    }
  }
  return out;
}

}  // namespace vigil::util
