// Unit name escaping and validity: table tests, round trips, and differential tests against
// systemd-escape (golden table from scripts/gen-systemd-oracle, and live when installed).

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/UnitName.h"
#include "core/UnitSpec.h"

using vigil::core::escapeUnitNameComponent;
using vigil::core::isValidUnitName;
using vigil::core::unescapeUnitNameComponent;

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

// Strings for round-trip tests: every single byte, pairs around the interesting ones, and
// a deterministic pseudo-random sample.
std::vector<std::string> roundTripCorpus() {
  std::vector<std::string> corpus = {"",      "a",     "/",  "-",     ".",           "..",
                                     ".a",    "a.",    "\\", "\\x2d", "héllo/wörld", "日本語",
                                     "a b c", "--x--", "@1", "x@y.z"};
  for (int b = 1; b < 256; ++b) corpus.emplace_back(1, static_cast<char>(b));
  const std::string interesting = "a.-/\\x2@ \xc3\xff:_";
  for (char c1 : interesting) {
    for (char c2 : interesting) corpus.push_back(std::string{c1, c2});
  }
  std::uint32_t x = 2463534242u;
  for (int i = 0; i < 3000; ++i) {
    std::string s;
    const int len = static_cast<int>(x % 24);
    for (int j = 0; j < len; ++j) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      char c = static_cast<char>(x & 0xff);
      if (c == '\0') c = '/';
      s += c;
    }
    x = x * 1664525u + 1013904223u;
    corpus.push_back(s);
  }
  return corpus;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(unit_name)

BOOST_AUTO_TEST_CASE(escapes_like_systemd_escape) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"", ""},
      {"web_api.v2:x", "web_api.v2:x"},
      {"foo/bar", "foo-bar"},
      {"/foo/bar/", "-foo-bar-"},
      {"a-b", "a\\x2db"},
      {".hidden", "\\x2ehidden"},
      {"a.b", "a.b"},
      {"..", "\\x2e."},
      {"foo bar", "foo\\x20bar"},
      {"a\\b", "a\\x5cb"},
      {"h\xc3\xa9", "h\\xc3\\xa9"},
      {"foo@bar", "foo\\x40bar"},
      {"\x7f", "\\x7f"},
  };
  for (const auto& [input, expected] : cases) {
    BOOST_TEST(escapeUnitNameComponent(input) == expected, "input '" << input << "'");
  }
}

BOOST_AUTO_TEST_CASE(unescapes_like_systemd_escape) {
  BOOST_TEST(*unescapeUnitNameComponent("a\\x2db-c") == "a-b/c");
  BOOST_TEST(*unescapeUnitNameComponent("\\x2D") == "-");
  BOOST_TEST(*unescapeUnitNameComponent("a b") == "a b");  // lenient, as systemd
  for (const std::string bad : {"a\\x", "a\\x2", "a\\xzz", "a\\y", "\\", "a\\"}) {
    const auto r = unescapeUnitNameComponent(bad);
    BOOST_TEST_CONTEXT("input '" << bad << "'") {
      BOOST_TEST_REQUIRE(!r.has_value());
      BOOST_TEST(r.error().code() == EINVAL);
    }
  }
  BOOST_TEST(unescapeUnitNameComponent("a\\y").error().message() ==
             "invalid escape sequence at offset 1 in 'a\\y'; expected \\xNN");
  // Divergence: systemd truncates at an escaped NUL; vigil refuses.
  BOOST_TEST(unescapeUnitNameComponent("\\x00x").error().message() ==
             "'\\x00x' unescapes to a NUL byte");
}

BOOST_AUTO_TEST_CASE(round_trips) {
  int checked = 0;
  for (const std::string& s : roundTripCorpus()) {
    const std::string escaped = escapeUnitNameComponent(s);
    const auto back = unescapeUnitNameComponent(escaped);
    BOOST_TEST_CONTEXT("input '" << s << "' escaped '" << escaped << "'") {
      BOOST_TEST_REQUIRE(back.has_value());
      // '-' in the escaped form means '/', so the round trip is exact.
      BOOST_TEST(*back == s);
      // The escaped form only uses characters valid in unit names.
      if (!escaped.empty() && escaped.size() + 8 <= vigil::core::kMaxUnitNameLength) {
        BOOST_TEST(isValidUnitName(escaped + ".service"));
      }
    }
    ++checked;
  }
  BOOST_TEST(checked > 3000);
}

BOOST_AUTO_TEST_CASE(escaping_is_injective_on_the_corpus) {
  std::vector<std::string> corpus = roundTripCorpus();
  std::sort(corpus.begin(), corpus.end());
  corpus.erase(std::unique(corpus.begin(), corpus.end()), corpus.end());
  std::vector<std::string> escaped;
  for (const auto& s : corpus) escaped.push_back(escapeUnitNameComponent(s));
  std::sort(escaped.begin(), escaped.end());
  const bool unique = std::adjacent_find(escaped.begin(), escaped.end()) == escaped.end();
  BOOST_TEST(unique);
}

BOOST_AUTO_TEST_CASE(validates_unit_names) {
  for (const std::string& good : std::vector<std::string>{
           "foo.service", "vigil-web-api.service", "vigil-web.slice", "a@1.service", "a@.service",
           "x:y_z.target", "a\\x2db.socket", "foo.bar.mount", "-.slice", "a.scope", "a.timer",
           "a.path", "a.device", "a.swap", "a.automount", std::string(247, 'a') + ".service"}) {
    BOOST_TEST(isValidUnitName(good), "expected valid: " << good);
  }
  for (const std::string& bad : std::vector<std::string>{
           "", "foo", ".service", "foo.", "foo.services", "foo.Service", "foo bar.service",
           "@a.service", "a@b@c.service", "föo.service", "a/b.service", "a%b.service",
           std::string(248, 'a') + ".service", std::string("a\0b.service", 11)}) {
    BOOST_TEST(!isValidUnitName(bad), "expected invalid: " << bad);
  }
}

BOOST_AUTO_TEST_CASE(matches_systemd_golden_tables) {
  const auto escape_rows = readTable("escape.tsv");
  BOOST_TEST(escape_rows.size() >= 50u);
  for (const auto& row : escape_rows) {
    BOOST_TEST_REQUIRE(row.size() == 2u);
    BOOST_TEST(escapeUnitNameComponent(row[0]) == row[1], "input '" << row[0] << "'");
  }
  const auto unescape_rows = readTable("unescape.tsv");
  BOOST_TEST(unescape_rows.size() >= 20u);
  for (const auto& row : unescape_rows) {
    BOOST_TEST_REQUIRE(row.size() == 3u);
    const auto r = unescapeUnitNameComponent(row[0]);
    BOOST_TEST_CONTEXT("input '" << row[0] << "'") {
      if (row[1] == "ok") {
        BOOST_TEST_REQUIRE(r.has_value());
        BOOST_TEST(*r == row[2]);
      } else {
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST(r.error().code() == EINVAL);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(matches_live_systemd_escape) {
  if (!onPath("systemd-escape")) {
    BOOST_TEST_REQUIRE(!requireTools(),
                       "VIGIL_REQUIRE_SYSTEMD_TOOLS=1 but systemd-escape is not on PATH");
    BOOST_TEST_MESSAGE("systemd-escape not on PATH; live differential test skipped");
    return;
  }
  std::vector<std::string> inputs;
  for (const auto& row : readTable("escape.tsv")) inputs.push_back(row[0]);
  const auto corpus = roundTripCorpus();
  // A slice of the generated corpus too (the shell cannot pass NUL; the corpus has none).
  for (std::size_t i = 0; i < corpus.size(); i += 37) inputs.push_back(corpus[i]);
  for (const std::string& input : inputs) {
    const auto out = runCommand("systemd-escape -- " + shellQuote(input) + " 2>/dev/null");
    BOOST_TEST_CONTEXT("input '" << input << "'") {
      BOOST_TEST_REQUIRE(out.has_value());
      BOOST_TEST_REQUIRE(out->ends_with("\n"));
      BOOST_TEST(escapeUnitNameComponent(input) == out->substr(0, out->size() - 1));
    }
  }
  for (const auto& row : readTable("unescape.tsv")) {
    const auto out =
        runCommand("systemd-escape --unescape -- " + shellQuote(row[0]) + " 2>/dev/null");
    const auto ours = unescapeUnitNameComponent(row[0]);
    BOOST_TEST_CONTEXT("unescape input '" << row[0] << "'") {
      BOOST_TEST(out.has_value() == ours.has_value());
      if (out && ours) BOOST_TEST(*ours + "\n" == *out);
    }
  }
}

// ControlGroup as systemd 252 reports it (measured in the VM: `systemctl show -p
// ControlGroup`; VM test 20-tree-slices compares every worker's live value).
BOOST_AUTO_TEST_CASE(control_group_follows_the_slice_hierarchy_and_cg_escape) {
  using vigil::core::controlGroupOf;
  BOOST_TEST(controlGroupOf("vigil-web.slice", "vigil-web-api.service") ==
             "/vigil.slice/vigil-web.slice/vigil-web-api.service");
  BOOST_TEST(controlGroupOf("vigil-ingest-parsers.slice", "vigil-ingest-parsers-csv@3.service") ==
             "/vigil.slice/vigil-ingest.slice/vigil-ingest-parsers.slice/"
             "vigil-ingest-parsers-csv@3.service");
  BOOST_TEST(controlGroupOf("system.slice", "cron.service") == "/system.slice/cron.service");
  BOOST_TEST(controlGroupOf("-.slice", "init.scope") == "/init.scope");
  // cg_escape(): names that would clash with cgroupfs' own files get a leading '_'.
  BOOST_TEST(controlGroupOf("system.slice", "cpu.service") == "/system.slice/_cpu.service");
  BOOST_TEST(controlGroupOf("system.slice", "_x.service") == "/system.slice/__x.service");
  BOOST_TEST(controlGroupOf("cgroup.slice", "a.service") == "/_cgroup.slice/a.service");
  BOOST_TEST(controlGroupOf("system.slice", "cpux.service") == "/system.slice/cpux.service");
}

BOOST_AUTO_TEST_SUITE_END()
