#pragma once
// Byte sizes in the syntax of systemd's MemoryMax= (parse_size() with base 1024).
// Pure functions: no I/O.

#include <cstdint>
#include <string>
#include <string_view>

#include "util/Result.h"

namespace vigil::core {

// Parses "<number>[.<fraction>][ ]<suffix>" where suffix is one of B, K, M, G, T, P, E
// (powers of 1024; none means bytes), e.g. "512M", "1.5G", "1048576". As systemd's
// parse_size(), several components in strictly decreasing unit order are summed
// ("1G 512M"), suffixes are upper-case only, and the fraction is truncated to whole bytes.
// "infinity" (optionally surrounded by whitespace) yields core::kUnlimited.
//
// Errors (util::Error with code EINVAL or ERANGE, message naming the input): empty
// input, negative numbers, unknown suffixes or junk, percentages ("50%": vigil only takes
// absolute sizes), and values that do not fit below kUnlimited (UINT64_MAX is reserved
// for "infinity").
util::Result<std::uint64_t> parseSize(std::string_view text);

// Formats bytes losslessly with the largest suffix that divides the value exactly:
// 536870912 -> "512M", 1610612736 -> "1536M", 1000 -> "1000", kUnlimited -> "infinity".
// parseSize(formatSize(x)) == x for every x.
std::string formatSize(std::uint64_t bytes);

}  // namespace vigil::core
