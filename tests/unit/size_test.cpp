// parseSize()/formatSize(): systemd MemoryMax= syntax (parse_size() with base 1024).

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/Size.h"
#include "core/Spec.h"

using vigil::core::formatSize;
using vigil::core::kUnlimited;
using vigil::core::parseSize;

namespace {
constexpr std::uint64_t K = 1024;
constexpr std::uint64_t M = K * 1024;
constexpr std::uint64_t G = M * 1024;
constexpr std::uint64_t T = G * 1024;
constexpr std::uint64_t P = T * 1024;
constexpr std::uint64_t E = P * 1024;
}  // namespace

BOOST_AUTO_TEST_SUITE(size)

BOOST_AUTO_TEST_CASE(parses_suffixes_and_fractions) {
  const std::vector<std::pair<std::string, std::uint64_t>> cases = {
      {"0", 0},
      {"1", 1},
      {"1048576", M},
      {"512B", 512},
      {"1K", K},
      {"512M", 512 * M},
      {"2G", 2 * G},
      {"1T", T},
      {"1P", P},
      {"1E", E},
      {"15E", 15 * E},
      {"1.5G", G + G / 2},
      {"0.5K", 512},
      {"1.5", 1},  // fractions of a byte are truncated, as systemd does
      {"10.M", 10 * M},
      {"0.1K", 102},
      {"1.0009765625K", 1025},
      {"1.00000000000000000001K", K},
      {" 512 M", 512 * M},
      {"+1K", K},
      {"1G 512M", G + 512 * M},
      {"1G512M", G + 512 * M},
      {"1G 1", G + 1},
      {"18446744073709551614", UINT64_MAX - 1},
      {"infinity", kUnlimited},
      {" infinity ", kUnlimited},
  };
  for (const auto& [input, expected] : cases) {
    const auto r = parseSize(input);
    BOOST_TEST_CONTEXT("input '" << input << "'") {
      BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().message()));
      BOOST_TEST(*r == expected);
    }
  }
}

BOOST_AUTO_TEST_CASE(rejects_junk) {
  for (const std::string input : {"",      " ",     "lots",     "512m",        "512k",    "1Ki",
                                  "1KB",   "1.5.G", "M",        "1 2",         "512M 1G", "1K 1K",
                                  "1e3",   "0x10",  "Infinity", "infinity 1K", "1_000",   "1,5G",
                                  "12 34", "512M " /* systemd rejects trailing whitespace too */}) {
    const auto r = parseSize(input);
    BOOST_TEST_CONTEXT("input '" << input << "'") {
      BOOST_TEST_REQUIRE(!r.has_value());
      BOOST_TEST(r.error().code() == EINVAL);
      BOOST_TEST(r.error().message().find("'" + input + "'") != std::string::npos);
    }
  }
  BOOST_TEST(parseSize("lots").error().message() ==
             "invalid size 'lots': expected a number at 'lots'");
  BOOST_TEST(parseSize(std::string("1\0K", 3)).error().code() == EINVAL);
}

BOOST_AUTO_TEST_CASE(rejects_percentages_clearly) {
  const auto r = parseSize("50%");
  BOOST_TEST_REQUIRE(!r.has_value());
  BOOST_TEST(r.error().message() ==
             "invalid size '50%': percentages are not supported; give an absolute size like 512M");
}

BOOST_AUTO_TEST_CASE(rejects_negative_and_overflow) {
  for (const std::string input :
       {"-1", "-0", " -5M", "16E", "17179869184G", "18446744073709551616",
        "18446744073709551615" /* reserved for infinity */, "99999999999999999999999", "15E 1024P",
        "1.99999999999999999999K", "15.9999E"}) {
    const auto r = parseSize(input);
    BOOST_TEST_CONTEXT("input '" << input << "'") {
      BOOST_TEST_REQUIRE(!r.has_value());
      BOOST_TEST(r.error().code() == ERANGE);
    }
  }
  BOOST_TEST(parseSize("-1").error().message() == "size '-1' is out of range");
  BOOST_TEST(*parseSize("15E") == 15 * E);
}

BOOST_AUTO_TEST_CASE(formats_losslessly) {
  BOOST_TEST(formatSize(512 * M) == "512M");
  BOOST_TEST(formatSize(G + G / 2) == "1536M");
  BOOST_TEST(formatSize(1000) == "1000");
  BOOST_TEST(formatSize(0) == "0");
  BOOST_TEST(formatSize(kUnlimited) == "infinity");
  BOOST_TEST(formatSize(2 * E) == "2E");
  std::uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    const std::uint64_t v = (x >> (i % 64)) << (i % 40);
    if (v == kUnlimited) continue;
    BOOST_TEST_CONTEXT("value " << v) {
      const auto back = parseSize(formatSize(v));
      BOOST_TEST_REQUIRE(back.has_value());
      BOOST_TEST(*back == v);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
