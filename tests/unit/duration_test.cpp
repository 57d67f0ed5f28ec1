// parseDuration()/formatDuration(): table tests, and differential tests against systemd's
// own parser (golden table from scripts/gen-systemd-oracle, and live when installed).

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/Duration.h"

using vigil::core::formatDuration;
using vigil::core::parseDuration;
using vigil::core::Usec;
using namespace std::chrono_literals;

namespace {

// ---- golden table reading (format documented in scripts/gen-systemd-oracle) ----

std::string decodeField(const std::string& field) {
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] != '\\') {
      out += field[i];
      continue;
    }
    BOOST_REQUIRE_MESSAGE(i + 1 < field.size(), "dangling backslash in " << field);
    const char c = field[++i];
    if (c == '\\') {
      out += '\\';
    } else if (c == 't') {
      out += '\t';
    } else if (c == 'n') {
      out += '\n';
    } else if (c == 'r') {
      out += '\r';
    } else {
      BOOST_REQUIRE_MESSAGE(c == 'x' && i + 2 < field.size(), "bad escape in " << field);
      out += static_cast<char>(std::stoi(field.substr(i + 1, 2), nullptr, 16));
      i += 2;
    }
  }
  return out;
}

std::vector<std::vector<std::string>> readTable(const std::string& name) {
  const std::string path = std::string(VIGIL_FIXTURES_DIR) + "/systemd-oracle/" + name;
  std::ifstream in(path);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  std::vector<std::vector<std::string>> rows;
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("#")) continue;
    std::vector<std::string> fields;
    std::size_t start = 0;
    for (;;) {
      const std::size_t tab = line.find('\t', start);
      fields.push_back(decodeField(line.substr(start, tab - start)));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    rows.push_back(std::move(fields));
  }
  return rows;
}

struct Oracle {
  std::string status;  // ok | EINVAL | ERANGE
  std::uint64_t usec = 0;
};

// The documented divergence: finite spans >= 2^63-1 µs are ERANGE in vigil.
Oracle expectedFromVigil(const Oracle& systemd) {
  constexpr std::uint64_t kInfinity = UINT64_MAX;
  constexpr auto kMaxFinite = static_cast<std::uint64_t>(INT64_MAX);
  if (systemd.status == "ok" && systemd.usec != kInfinity && systemd.usec >= kMaxFinite) {
    return {"ERANGE", 0};
  }
  return systemd;
}

Oracle vigilResult(const std::string& input) {
  const auto r = parseDuration(input);
  if (!r)
    return {r.error().code() == ERANGE ? "ERANGE" : r.error().code() == EINVAL ? "EINVAL" : "?"};
  if (*r == Usec::max()) return {"ok", UINT64_MAX};
  return {"ok", static_cast<std::uint64_t>(r->count())};
}

// ---- live tools ----

bool onPath(const std::string& tool) {
  const char* path = std::getenv("PATH");
  if (!path) return false;
  std::string dirs = path;
  std::size_t start = 0;
  for (;;) {
    const std::size_t colon = dirs.find(':', start);
    const std::string dir = dirs.substr(start, colon - start);
    if (!dir.empty() && ::access((dir + "/" + tool).c_str(), X_OK) == 0) return true;
    if (colon == std::string::npos) return false;
    start = colon + 1;
  }
}

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command; returns stdout, or nullopt when it exits non-zero.
std::optional<std::string> runCommand(const std::string& command) {
  FILE* pipe = ::popen(command.c_str(), "r");
  BOOST_REQUIRE(pipe != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) out.append(buf, n);
  const int status = ::pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return out;
}

bool requireTools() {
  const char* v = std::getenv("VIGIL_REQUIRE_SYSTEMD_TOOLS");
  return v != nullptr && std::string(v) == "1";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(duration)

BOOST_AUTO_TEST_CASE(parses_units_and_combinations) {
  const std::vector<std::pair<std::string, Usec>> cases = {
      {"0", 0us},
      {"90", 90s},
      {"250ms", 250ms},
      {"1.5s", 1500ms},
      {"1h 30min", 90min},
      {"1h30min", 90min},
      {"55s500ms", 55500ms},
      {"2 weeks", 14 * 24h},
      {"1M", std::chrono::seconds(2629800)},
      {"1y", std::chrono::seconds(31557600)},
      {"1\xc2\xb5s", 1us},
      {"1\xce\xbcs", 1us},
      {" 5 s ", 5s},
      {".5s", 500ms},
      {"1s.5", 1500ms},
      {"5 3", 8s},
      {"1.5us", 1us},
      {"1min 1min", 2min},
      {"infinity", Usec::max()},
      {"  infinity\t", Usec::max()},
  };
  for (const auto& [input, expected] : cases) {
    const auto r = parseDuration(input);
    BOOST_TEST_CONTEXT("input '" << input << "'") {
      BOOST_TEST_REQUIRE(r.has_value());
      BOOST_TEST(r->count() == expected.count());
    }
  }
}

BOOST_AUTO_TEST_CASE(rejects_junk_with_a_message_naming_the_input) {
  for (const std::string input : {"", "abc", "5mins", "1S", "12.34.56", "1.", "Infinity", "5%"}) {
    const auto r = parseDuration(input);
    BOOST_TEST_CONTEXT("input '" << input << "'") {
      BOOST_TEST_REQUIRE(!r.has_value());
      BOOST_TEST(r.error().code() == EINVAL);
      BOOST_TEST(r.error().message().find("'" + input + "'") != std::string::npos);
    }
  }
  BOOST_TEST(parseDuration("5x").error().message() == "invalid duration '5x': unknown unit at 'x'");
  BOOST_TEST(parseDuration("5mins").error().message() ==
             "invalid duration '5mins': expected a number at 's'");
  BOOST_TEST(parseDuration(std::string("1\0s", 3)).error().code() == EINVAL);
}

BOOST_AUTO_TEST_CASE(rejects_negative_and_overflow_as_erange) {
  for (const std::string input : {"-1s", "-0", "1h -5min", "9223372036854775808us", "584542y",
                                  "9223372036854775807us" /* would collide with infinity */}) {
    const auto r = parseDuration(input);
    BOOST_TEST_CONTEXT("input '" << input << "'") {
      BOOST_TEST_REQUIRE(!r.has_value());
      BOOST_TEST(r.error().code() == ERANGE);
    }
  }
  BOOST_TEST(parseDuration("-1s").error().message() == "duration '-1s' is out of range");
  BOOST_TEST(parseDuration("9223372036854775806us")->count() == INT64_MAX - 1);
}

BOOST_AUTO_TEST_CASE(formats_for_messages) {
  BOOST_TEST(formatDuration(90s) == "1min 30s");
  BOOST_TEST(formatDuration(250ms) == "250ms");
  BOOST_TEST(formatDuration(1500ms) == "1s 500ms");
  BOOST_TEST(formatDuration(0us) == "0");
  BOOST_TEST(formatDuration(Usec::max()) == "infinity");
  BOOST_TEST(formatDuration(std::chrono::seconds(31557600 + 6 * 2629800)) == "1y 6month");
  BOOST_TEST(formatDuration(std::chrono::hours(24 * 9) + 1us) == "1w 2d 1us");
  BOOST_TEST(formatDuration(-5s) == "-5s");
}

BOOST_AUTO_TEST_CASE(format_round_trips_through_parse) {
  std::vector<Usec> values = {1us,
                              999us,
                              1ms,
                              1001ms,
                              59s,
                              61s,
                              3599s,
                              1h,
                              25h,
                              8 * 24h,
                              Usec(INT64_MAX - 1),
                              Usec(123456789012345)};
  // A deterministic spread of magnitudes.
  std::uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    values.push_back(Usec(static_cast<std::int64_t>((x >> (i % 63)) % (INT64_MAX - 1))));
  }
  for (const Usec v : values) {
    const std::string text = formatDuration(v);
    const auto back = parseDuration(text);
    BOOST_TEST_CONTEXT("value " << v.count() << " formatted '" << text << "'") {
      BOOST_TEST_REQUIRE(back.has_value());
      BOOST_TEST(back->count() == v.count());
    }
  }
}

BOOST_AUTO_TEST_CASE(matches_systemd_golden_table) {
  const auto rows = readTable("timespan.tsv");
  BOOST_TEST(rows.size() >= 100u);
  for (const auto& row : rows) {
    BOOST_TEST_REQUIRE(row.size() == 4u);
    Oracle systemd{row[1]};
    if (systemd.status == "ok") systemd.usec = std::stoull(row[2]);
    const Oracle expected = expectedFromVigil(systemd);
    const Oracle actual = vigilResult(row[0]);
    BOOST_TEST_CONTEXT("input '" << row[0] << "'") {
      BOOST_TEST(actual.status == expected.status);
      BOOST_TEST(actual.usec == expected.usec);
      // Where systemd's human form has no dot notation, ours is identical; otherwise ours
      // spells the fraction as components ("1s 500ms"), which the round-trip test covers.
      if (actual.status == "ok" && actual.usec != UINT64_MAX &&
          row[3].find('.') == std::string::npos) {
        BOOST_TEST(formatDuration(Usec(static_cast<std::int64_t>(actual.usec))) == row[3]);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(matches_live_systemd_analyze) {
  if (!onPath("systemd-analyze")) {
    BOOST_TEST_REQUIRE(!requireTools(),
                       "VIGIL_REQUIRE_SYSTEMD_TOOLS=1 but systemd-analyze is not on PATH");
    BOOST_TEST_MESSAGE("systemd-analyze not on PATH; live differential test skipped");
    return;
  }
  const std::regex usec_line(R"((^|\n)\s*\xce\xbcs: (\d+)\n)");
  for (const auto& row : readTable("timespan.tsv")) {
    const std::string& input = row[0];
    const auto out = runCommand("LC_ALL=C.UTF-8 SYSTEMD_COLORS=0 systemd-analyze timespan -- " +
                                shellQuote(input) + " 2>/dev/null");
    Oracle live{"ERR"};  // the tool does not tell EINVAL from ERANGE in its exit status
    if (out) {
      std::smatch m;
      BOOST_TEST_REQUIRE(std::regex_search(*out, m, usec_line), "unexpected output: " << *out);
      live = {"ok", std::stoull(m[2].str())};
    }
    const Oracle expected = expectedFromVigil(live);
    const Oracle actual = vigilResult(input);
    BOOST_TEST_CONTEXT("input '" << input << "'") {
      if (expected.status == "ok") {
        BOOST_TEST(actual.status == "ok");
        BOOST_TEST(actual.usec == expected.usec);
      } else {
        BOOST_TEST(actual.status != "ok");
      }
      BOOST_WARN_MESSAGE((row[1] == "ok") == (live.status == "ok"),
                         "golden table differs from the installed systemd; rerun "
                         "scripts/gen-systemd-oracle");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
