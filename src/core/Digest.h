#pragma once
// A stable digest of a sequence of fields: 64-bit FNV-1a
// (http://www.isthe.com/chongo/tech/comp/fnv/) over a canonical serialisation, each field
// length-prefixed ("3:abc"), so that ("ab", "c") and ("a", "bc") differ. Stable across
// runs and builds (std::hash is not): it names what was written to a unit (VIGIL_SPEC) or
// a file (last-good.json), and is compared with what a later vigild computes. Not
// collision-resistant against a chosen input: it detects change and damage, not forgery.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace vigil::core {

class Digest {
 public:
  void add(std::string_view s) {
    addRaw(std::to_string(s.size()));
    addRaw(":");
    addRaw(s);
  }
  void add(std::uint64_t v) { add(std::to_string(v)); }
  void add(const std::optional<std::uint64_t>& v) { add(v ? std::to_string(*v) : "-"); }
  // 16 lower-case hex digits.
  std::string hex() const { return fmt::format("{:016x}", hash_); }

 private:
  void addRaw(std::string_view s) {
    for (unsigned char c : s) {
      hash_ ^= c;
      hash_ *= 0x100000001b3ULL;
    }
  }
  std::uint64_t hash_ = 0xcbf29ce484222325ULL;
};

}  // namespace vigil::core
