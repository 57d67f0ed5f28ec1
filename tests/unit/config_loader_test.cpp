// ConfigLoader: exact error messages per class of error, hardening against hostile YAML,
// the merge order of defaults, tier selection, and that the shipped files load cleanly.

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "config/ConfigLoader.h"
#include "config/YamlNode.h"
#include "core/ReloadPlan.h"
#include "core/Spec.h"
#include "util/BuildInfo.h"

// Printable enums for BOOST_TEST messages.
namespace vigil::core {
inline std::ostream& operator<<(std::ostream& os, RestartPolicy p) {
  return os << toString(p);
}
inline std::ostream& operator<<(std::ostream& os, Strategy s) {
  return os << toString(s);
}
}  // namespace vigil::core

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vigil::config::ConfigErrors;
using vigil::config::loadConfig;
using vigil::config::loadConfigFromString;
using vigil::config::LoadOptions;
using vigil::core::Config;
using vigil::core::RestartPolicy;
using vigil::core::Strategy;
using vigil::core::SupervisorSpec;
using vigil::core::Usec;
using vigil::core::WorkerSpec;

namespace {

const fs::path kConfigs = fs::path(VIGIL_FIXTURES_DIR) / "configs";
const fs::path kTiers = kConfigs / "tiers";
const fs::path kRepoConfig = fs::path(VIGIL_FIXTURES_DIR) / ".." / ".." / "config";
const fs::path kRepoTiers = kRepoConfig / "tiers";

constexpr std::uint64_t MiB = 1 << 20;

std::string readText(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

LoadOptions testOptions(std::vector<fs::path> tier_dirs = {kTiers}) {
  LoadOptions options;
  options.tier_dirs = std::move(tier_dirs);
  return options;
}

std::vector<std::string> format(const ConfigErrors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.format());
  return out;
}

// The errors of loading `yaml` (named `name` in messages); fails the test if it loads.
std::vector<std::string> errorsOf(const std::string& yaml,
                                  const std::string& name,
                                  const LoadOptions& options = testOptions()) {
  const auto result = loadConfigFromString(yaml, name, options);
  BOOST_REQUIRE_MESSAGE(!result.has_value(), name << " unexpectedly loaded");
  return format(result.error());
}

std::vector<std::string> fixtureErrors(const std::string& fixture,
                                       const LoadOptions& options = testOptions()) {
  return errorsOf(readText(kConfigs / "invalid" / (fixture + ".yaml")), fixture + ".yaml", options);
}

Config loadFixture(const std::string& fixture, const LoadOptions& options = testOptions()) {
  const auto result = loadConfigFromString(readText(kConfigs / "valid" / (fixture + ".yaml")),
                                           fixture + ".yaml", options);
  if (!result) BOOST_FAIL(fixture << " did not load:\n" << formatErrors(result.error()));
  return *result;
}

#define CHECK_LINES(actual, ...)                                                  \
  do {                                                                            \
    const std::vector<std::string> expected_lines = __VA_ARGS__;                  \
    const std::vector<std::string> actual_lines = (actual);                       \
    BOOST_TEST(actual_lines == expected_lines, boost::test_tools::per_element()); \
  } while (0)

const WorkerSpec& worker(const SupervisorSpec& s, std::size_t i) {
  BOOST_REQUIRE_LT(i, s.children.size());
  BOOST_REQUIRE(s.children[i].worker);
  return *s.children[i].worker;
}

const SupervisorSpec& supervisor(const SupervisorSpec& s, std::size_t i) {
  BOOST_REQUIRE_LT(i, s.children.size());
  BOOST_REQUIRE(s.children[i].supervisor);
  return *s.children[i].supervisor;
}

const SupervisorSpec& tree(const Config& c, const std::string& name) {
  for (const auto& t : c.trees) {
    if (t.name == name) return t;
  }
  BOOST_FAIL("no tree " << name);
  std::abort();  // not reached: BOOST_FAIL throws
}

// The invalid fixtures with a test case below asserting their exact errors.
const std::set<std::string> kCoveredFixtures = {"alias",
                                                "backoff_order",
                                                "bad_enum",
                                                "bad_names",
                                                "bad_size",
                                                "bad_values",
                                                "billion_laughs",
                                                "child_kind",
                                                "command",
                                                "cycle",
                                                "duplicate_key",
                                                "duplicate_names",
                                                "environment",
                                                "nesting_too_deep",
                                                "null_key",
                                                "root_sequence",
                                                "syntax_error",
                                                "tags",
                                                "tier_invalid",
                                                "tier_missing",
                                                "two_documents",
                                                "unknown_key",
                                                "watchdog_without_notify",
                                                "wrong_kinds"};

}  // namespace

BOOST_AUTO_TEST_SUITE(config_errors)

BOOST_AUTO_TEST_CASE(unknown_keys_list_the_accepted_keys) {
  CHECK_LINES(fixtureErrors("unknown_key"),
              {"unknown_key.yaml:6:9: trees.web.children[0]: unknown key 'limts'; accepted keys: "
               "name, command, environment, working_directory, user, group, limits, restart, "
               "backoff, stop, notify, notify_access, watchdog, instances, start_timeout, health",
               "unknown_key.yaml:7:5: trees.web: unknown key 'strategie'; accepted keys: "
               "strategy, intensity, limits, children",
               "unknown_key.yaml:8:1: unknown key 'tres'; accepted keys: tier, log_level, "
               "metrics, defaults, trees"});
}

BOOST_AUTO_TEST_CASE(bad_sizes) {
  CHECK_LINES(fixtureErrors("bad_size"),
              {"bad_size.yaml:7:30: trees.web.children[0].limits.memory_max: expected a size "
               "like 512M, found 'lots'",
               "bad_size.yaml:9:27: trees.db.limits.memory_high: expected a size like 512M, "
               "found '50%' (percentages are not supported)",
               "bad_size.yaml:9:44: trees.db.limits.memory_max: expected a size of at least 1 "
               "byte, found '0'"});
}

BOOST_AUTO_TEST_CASE(bad_enums) {
  CHECK_LINES(fixtureErrors("bad_enum"),
              {"bad_enum.yaml:1:12: log_level: expected one of trace, debug, info, warn, error, "
               "found 'verbose'",
               "bad_enum.yaml:3:12: defaults.restart: expected one of permanent, transient, "
               "temporary, found 'always'",
               "bad_enum.yaml:6:15: trees.web.strategy: expected one of one_for_one, "
               "one_for_all, rest_for_one, found 'one_for_none'",
               "bad_enum.yaml:10:18: trees.web.children[0].restart: expected one of permanent, "
               "transient, temporary, found 'Permanent'"});
}

BOOST_AUTO_TEST_CASE(duplicate_keys_name_both_locations) {
  CHECK_LINES(fixtureErrors("duplicate_key"),
              {"duplicate_key.yaml:7:9: trees.web.children[0].name: duplicate key 'name'; first "
               "defined at duplicate_key.yaml:5:9",
               "duplicate_key.yaml:8:5: trees.web.strategy: duplicate key 'strategy'; first "
               "defined at duplicate_key.yaml:3:5"});
}

BOOST_AUTO_TEST_CASE(anchors_and_aliases_are_rejected) {
  CHECK_LINES(fixtureErrors("alias"),
              {"alias.yaml:2:11: defaults.limits: anchors and aliases are not supported (found "
               "anchor '&small'); write the value out in full",
               "alias.yaml:8:17: trees.web.children[0].limits: anchors and aliases are not "
               "supported (found alias '*small'); write the value out in full"});
}

BOOST_AUTO_TEST_CASE(cycles_are_rejected) {
  CHECK_LINES(fixtureErrors("cycle"),
              {"cycle.yaml:1:8: trees: anchors and aliases are not supported (found anchor "
               "'&x'); write the value out in full",
               "cycle.yaml:2:8: trees.web: anchors and aliases are not supported (found alias "
               "'*x'); write the value out in full"});
  // The smallest self-referencing node, which yaml-cpp turns into a cyclic graph.
  CHECK_LINES(errorsOf("trees: &x [*x]\n", "self.yaml"),
              {"self.yaml:1:8: trees: anchors and aliases are not supported (found anchor '&x'); "
               "write the value out in full",
               "self.yaml:1:8: trees: expected a mapping, found a sequence",
               "self.yaml:1:12: trees[0]: anchors and aliases are not supported (found alias "
               "'*x'); write the value out in full"});
}

BOOST_AUTO_TEST_CASE(billion_laughs_fails_fast) {
  const auto start = std::chrono::steady_clock::now();
  const auto errors = fixtureErrors("billion_laughs");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  BOOST_TEST((elapsed < 2s));  // milliseconds in practice; a naive walk would never finish
  // 9 anchors, 72 aliases, 9 unknown top-level keys.
  BOOST_TEST(errors.size() == 90u);
  CHECK_LINES(std::vector<std::string>(errors.begin(), errors.begin() + 4),
              {"billion_laughs.yaml:2:1: unknown key 'a'; accepted keys: tier, log_level, "
               "metrics, defaults, trees",
               "billion_laughs.yaml:2:4: a: anchors and aliases are not supported (found anchor "
               "'&a'); write the value out in full",
               "billion_laughs.yaml:3:1: unknown key 'b'; accepted keys: tier, log_level, "
               "metrics, defaults, trees",
               "billion_laughs.yaml:3:4: b: anchors and aliases are not supported (found anchor "
               "'&b'); write the value out in full"});
  BOOST_TEST(errors.back() ==
             "billion_laughs.yaml:10:40: i[8]: anchors and aliases are not supported (found "
             "alias '*h'); write the value out in full");
}

BOOST_AUTO_TEST_CASE(bad_names) {
  CHECK_LINES(
      fixtureErrors("bad_names"),
      {"bad_names.yaml:2:3: trees.web-frontend: name 'web-frontend' contains '-', which vigil "
       "reserves as the slice hierarchy separator (vigil-a-b.slice is a child of vigil-a.slice); "
       "names are identifiers of ASCII letters, digits and '_': use 'web_frontend'",
       "bad_names.yaml:4:3: trees.\"caf\xc3\xa9\": name 'caf\xc3\xa9' contains '\xc3\xa9'; names "
       "are identifiers of ASCII letters, digits and '_': use 'caf'",
       "bad_names.yaml:5:3: trees.\".hidden\": name '.hidden' contains '.'; names are "
       "identifiers of ASCII letters, digits and '_': use 'hidden'",
       "bad_names.yaml:8:15: trees.ok_tree.children[0].name: name 'my-api' contains '-', which "
       "vigil reserves as the slice hierarchy separator (vigil-a-b.slice is a child of "
       "vigil-a.slice); names are identifiers of ASCII letters, digits and '_': use 'my_api'",
       "bad_names.yaml:10:15: trees.ok_tree.children[1].name: name 'a b' contains ' '; names are "
       "identifiers of ASCII letters, digits and '_': use 'a_b'",
       "bad_names.yaml:12:15: trees.ok_tree.children[2].name: a name must not be empty",
       "bad_names.yaml:14:15: trees.ok_tree.children[3].name: name "
       "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is 65 bytes long; the "
       "limit is 64",
       "bad_names.yaml:16:9: trees.ok_tree.children[4]: missing required key 'name'",
       "bad_names.yaml:17:15: trees.ok_tree.children[5].name: expected a name like api or web_1, "
       "found a mapping"});
}

BOOST_AUTO_TEST_CASE(duplicate_sibling_names_name_both_locations) {
  CHECK_LINES(fixtureErrors("duplicate_names"),
              {"duplicate_names.yaml:8:15: trees.web.children[2].name: duplicate name 'api'; "
               "first used at duplicate_names.yaml:4:15"});
}

BOOST_AUTO_TEST_CASE(environment) {
  CHECK_LINES(fixtureErrors("environment"),
              {"environment.yaml:8:11: trees.web.children[0].environment: expected a variable "
               "name matching [A-Za-z_][A-Za-z0-9_]*, found 'MY-VAR'",
               "environment.yaml:9:11: trees.web.children[0].environment: expected a variable "
               "name matching [A-Za-z_][A-Za-z0-9_]*, found '1ABC'",
               "environment.yaml:11:11: trees.web.children[0].environment.EMPTY: expected a "
               "string (write \"\" for an empty value), found null",
               "environment.yaml:11:17: trees.web.children[0].environment.LIST: expected a "
               "string (write \"\" for an empty value), found a sequence",
               "environment.yaml:12:18: trees.web.children[0].environment.MULTI: the value must "
               "not contain a newline"});
}

BOOST_AUTO_TEST_CASE(commands) {
  CHECK_LINES(fixtureErrors("command"),
              {"command.yaml:5:19: trees.web.children[0].command[0]: expected an absolute path "
               "like /usr/bin/python3, found 'python3'",
               "command.yaml:7:18: trees.web.children[1].command: expected a non-empty sequence "
               "of strings like [/usr/bin/python3, -m, http.server], found an empty sequence",
               "command.yaml:9:18: trees.web.children[2].command: expected a non-empty sequence "
               "of strings like [/usr/bin/python3, -m, http.server], found '/usr/bin/python3 -m "
               "http.server'",
               "command.yaml:11:33: trees.web.children[3].command[1]: expected a string, found a "
               "sequence",
               "command.yaml:12:9: trees.web.children[4]: missing required key 'command' (for a "
               "worker) or 'children' (for a nested supervisor)"});
}

BOOST_AUTO_TEST_CASE(watchdog_requires_notify) {
  CHECK_LINES(fixtureErrors("watchdog_without_notify"),
              {"watchdog_without_notify.yaml:6:19: trees.web.children[0].watchdog: watchdog "
               "requires notify: true (the service reports liveness with "
               "sd_notify(\"WATCHDOG=1\"))",
               "watchdog_without_notify.yaml:10:19: trees.web.children[1].watchdog: watchdog "
               "requires notify: true (the service reports liveness with "
               "sd_notify(\"WATCHDOG=1\"))"});
}

BOOST_AUTO_TEST_CASE(wrong_node_kinds) {
  CHECK_LINES(fixtureErrors("wrong_kinds"),
              {"wrong_kinds.yaml:1:11: defaults: expected a mapping, found a sequence",
               "wrong_kinds.yaml:5:7: trees.web.children: expected a sequence of children, found "
               "a mapping",
               "wrong_kinds.yaml:6:7: trees.db: expected a mapping, found 'just a string'",
               "wrong_kinds.yaml:8:13: trees.cache.limits: expected a mapping, found '512M'",
               "wrong_kinds.yaml:10:9: trees.cache.children[0]: expected a mapping, found 'just a "
               "string'",
               "wrong_kinds.yaml:11:9: trees.cache.children[1]: expected a mapping, found a "
               "sequence"});
  CHECK_LINES(fixtureErrors("root_sequence"),
              {"root_sequence.yaml:1:1: expected a mapping, found a sequence"});
  CHECK_LINES(fixtureErrors("null_key"),
              {"null_key.yaml:2:5: trees: mapping keys must be plain strings, found a sequence"});
}

BOOST_AUTO_TEST_CASE(out_of_range_values) {
  CHECK_LINES(
      fixtureErrors("bad_values"),
      {"bad_values.yaml:3:31: trees.web.intensity.max_restarts: expected an integer from 0 to "
       "1000000, found '-1'",
       "bad_values.yaml:3:43: trees.web.intensity.period: expected a positive duration like 1s, "
       "found '0'",
       "bad_values.yaml:8:22: trees.web.children[0].limits.cpu_quota: expected a CPU quota like "
       "50% or 200% (1% to 100000%), found '0%'",
       "bad_values.yaml:9:23: trees.web.children[0].limits.cpu_weight: expected an integer from 1 "
       "to 10000, found '0'",
       "bad_values.yaml:10:22: trees.web.children[0].limits.io_weight: expected an integer from 1 "
       "to 10000, found '20000'",
       "bad_values.yaml:11:22: trees.web.children[0].limits.tasks_max: expected an integer of at "
       "least 1 or infinity, found '0'",
       "bad_values.yaml:12:28: trees.web.children[0].backoff.initial: expected a positive "
       "duration like 1s, found '0'",
       "bad_values.yaml:12:36: trees.web.children[0].backoff.max: expected a finite duration, "
       "found 'infinity'",
       "bad_values.yaml:12:58: trees.web.children[0].backoff.multiplier: expected a number from 1 "
       "to 1000 like 2 or 1.5, found '0.5'",
       "bad_values.yaml:12:71: trees.web.children[0].backoff.jitter: expected a number from 0 to "
       "1 like 0.2, found '1.5'",
       "bad_values.yaml:12:89: trees.web.children[0].backoff.reset_after: expected a duration "
       "like 30s or 1min 30s, found 'soon'",
       "bad_values.yaml:13:24: trees.web.children[0].stop.signal: expected a signal name "
       "(SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGKILL, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, "
       "SIGWINCH, SIGPWR, SIGRTMIN+N) or its number, found 'SIGFOO'",
       "bad_values.yaml:13:41: trees.web.children[0].stop.timeout: expected a duration like 30s "
       "or 1min 30s, found '-1s'",
       "bad_values.yaml:14:15: trees.web.children[0].user: expected a user name like www-data "
       "(matching [a-z_][a-z0-9_-]*[$]?) or a numeric id, found 'Root'",
       "bad_values.yaml:15:16: trees.web.children[0].group: expected a group name like www-data "
       "(matching [a-z_][a-z0-9_-]*[$]?) or a numeric id, found 'bad group'",
       "bad_values.yaml:16:28: trees.web.children[0].working_directory: expected an absolute "
       "path, found 'srv/api'",
       "bad_values.yaml:17:17: trees.web.children[0].notify: expected true or false, found "
       "'yes'",
       "bad_values.yaml:18:20: trees.web.children[0].instances: expected an integer from 1 to "
       "1000, found '1001'",
       "bad_values.yaml:19:24: trees.web.children[0].start_timeout: expected a positive duration "
       "like 1s, found '0'",
       "bad_values.yaml:22:29: trees.web.children[1].limits.cpu_quota: expected a CPU quota like "
       "50% or 200% (1% to 100000%), found '100001%'",
       "bad_values.yaml:22:49: trees.web.children[1].limits.tasks_max: expected an integer of at "
       "least 1 or infinity, found 'lots'",
       "bad_values.yaml:23:24: trees.web.children[1].stop.signal: expected a signal name "
       "(SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGKILL, SIGUSR1, SIGUSR2, SIGALRM, SIGTERM, "
       "SIGWINCH, SIGPWR, SIGRTMIN+N) or its number, found '65'",
       "bad_values.yaml:23:37: trees.web.children[1].stop.timeout: expected a finite duration, "
       "found 'infinity'",
       "bad_values.yaml:24:20: trees.web.children[1].instances: expected an integer from 1 to "
       "1000, found '0'",
       // notify is invalid, so its watchdog is not reported a second time.
       "bad_values.yaml:26:17: trees.web.children[1].notify: expected true or false, found "
       "'maybe'",
       "bad_values.yaml:27:24: trees.web.children[1].start_timeout: expected a duration of at "
       "most 1y, found '2y'"});
}

BOOST_AUTO_TEST_CASE(backoff_max_below_initial_across_layers) {
  // Reported once where the conflict is introduced: the config's defaults against the
  // tier, then a worker against the config's defaults.
  CHECK_LINES(fixtureErrors("backoff_order"),
              {"backoff_order.yaml:2:18: defaults.backoff.max: expected a duration no shorter "
               "than backoff.initial (2s, set at " +
                   (kTiers / "tier_3.yaml").string() + ":6:22), found '1s'",
               "backoff_order.yaml:8:28: trees.web.children[0].backoff.initial: expected a "
               "duration no longer than backoff.max (1s, set at backoff_order.yaml:2:18), found "
               "'10min'"});
}

BOOST_AUTO_TEST_CASE(worker_or_supervisor) {
  CHECK_LINES(fixtureErrors("child_kind"),
              {"child_kind.yaml:4:9: trees.web.children[0]: a child has either 'command' (a "
               "worker) or 'children' (a nested supervisor), not both",
               "child_kind.yaml:8:9: trees.web.children[1]: unknown key 'restart'; accepted keys: "
               "name, strategy, intensity, limits, children (this child is a nested supervisor "
               "because it has 'children')"});
}

BOOST_AUTO_TEST_CASE(supervisor_nesting_is_capped_at_8) {
  CHECK_LINES(fixtureErrors("nesting_too_deep"),
              {"nesting_too_deep.yaml:18:37: trees.l1.children[0].children[0].children[0]."
               "children[0].children[0].children[0].children[0].children[0]: supervisors nest at "
               "most 8 levels deep; this one would be level 9"});
}

BOOST_AUTO_TEST_CASE(yaml_level_problems) {
  CHECK_LINES(fixtureErrors("two_documents"),
              {"two_documents.yaml:2:1: a second YAML document ('---') is not allowed; use a "
               "single document"});
  CHECK_LINES(fixtureErrors("syntax_error"),
              {"syntax_error.yaml:4:7: YAML syntax error: illegal block entry"});
  CHECK_LINES(
      fixtureErrors("tags"),
      {"tags.yaml:3:8: trees.web: YAML tags are not supported (found '!custom')",
       "tags.yaml:6:15: trees.db.children: YAML tags are not supported (found '!!binary')"});
  CHECK_LINES(errorsOf("log_level: \"inf\\0o\"\n", "nul_escape.yaml"),
              {"nul_escape.yaml:1:12: log_level: the value contains a NUL character"});
}

BOOST_AUTO_TEST_CASE(nul_bytes_and_invalid_utf8) {
  CHECK_LINES(errorsOf(std::string("trees: {}\n# x\0y\n", 16), "nul.yaml"),
              {"nul.yaml:2:4: the file contains a NUL byte; configuration files must be UTF-8 "
               "text"});
  CHECK_LINES(errorsOf("log_level: info\nuser: \xff\n", "latin1.yaml"),
              {"latin1.yaml:2:7: the file contains invalid UTF-8 (byte 0xff); configuration "
               "files must be UTF-8 text"});
  CHECK_LINES(errorsOf("a: \xc0\xaf\n", "overlong.yaml"),
              {"overlong.yaml:1:4: the file contains invalid UTF-8 (byte 0xc0); configuration "
               "files must be UTF-8 text"});
  CHECK_LINES(errorsOf("a: \xed\xa0\x80\n", "surrogate.yaml"),
              {"surrogate.yaml:1:4: the file contains invalid UTF-8 (byte 0xed); configuration "
               "files must be UTF-8 text"});
  // UTF-16 (with its NUL bytes) is refused rather than guessed at.
  CHECK_LINES(errorsOf(std::string("\xff\xfet\0r\0", 6), "utf16.yaml"),
              {"utf16.yaml:1:1: the file contains invalid UTF-8 (byte 0xff); configuration files "
               "must be UTF-8 text"});
}

BOOST_AUTO_TEST_CASE(oversized_files_are_refused_before_parsing) {
  const std::string big(MiB + 1, '#');
  CHECK_LINES(errorsOf(big, "big.yaml"),
              {"big.yaml: the file is 1048577 bytes; the limit is 1048576 bytes"});
  // From disk, the size is checked with fstat() before anything is read.
  LoadOptions small = testOptions();
  small.max_file_bytes = 100;
  const fs::path file = kRepoConfig / "example.yaml";
  const auto result = loadConfig(file, small);
  BOOST_TEST_REQUIRE(!result.has_value());
  CHECK_LINES(format(result.error()),
              {file.string() + ": the file is " + std::to_string(fs::file_size(file)) +
               " bytes; the limit is 100 bytes"});
}

BOOST_AUTO_TEST_CASE(deep_yaml_nesting_is_refused) {
  std::string deep = "trees:\n";
  for (int i = 0; i < 70; ++i)
    deep += std::string(2 * (i + 1), ' ') + "k" + std::to_string(i) + ":\n";
  const auto errors = errorsOf(deep, "deep.yaml");
  BOOST_TEST_REQUIRE(errors.size() == 1u);
  BOOST_TEST(errors[0] ==
             "deep.yaml:65:129: trees.k0.k1.k2.k3.k4.k5.k6.k7.k8.k9.k10.k11.k12.k13.k14.k15.k16."
             "k17.k18.k19.k20.k21.k22.k23.k24.k25.k26.k27.k28.k29.k30.k31.k32.k33.k34.k35.k36.k37."
             "k38.k39.k40.k41.k42.k43.k44.k45.k46.k47.k48.k49.k50.k51.k52.k53.k54.k55.k56.k57.k58."
             "k59.k60.k61.k62: nesting is deeper than 64 levels, the limit");
  // Flow style, far beyond yaml-cpp's own limit of 500 (which it reports by throwing
  // YAML::DeepRecursion): stopped by the depth cap or the lookahead bound, quickly.
  const auto start = std::chrono::steady_clock::now();
  CHECK_LINES(errorsOf(std::string(MiB, '['), "brackets.yaml"),
              {"brackets.yaml:1:1: the YAML parser read more than 131072 bytes past this point "
               "without completing a node (unclosed '[' or '{', or a value or comment that long)"});
  CHECK_LINES(
      errorsOf("a: " + std::string(2000, '[') + std::string(2000, ']'), "closed.yaml"),
      {"closed.yaml:1:67: a[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
       "[0][0][0][0][0][0][0][0][0][0][0][0][0][0]: nesting is deeper than 64 levels, the "
       "limit"});
  BOOST_TEST((std::chrono::steady_clock::now() - start < 2s));
  // With the cap raised above yaml-cpp's, its DeepRecursion is reported, not thrown.
  LoadOptions lax = testOptions();
  lax.max_depth = 100000;
  CHECK_LINES(errorsOf("a: " + std::string(600, '[') + std::string(600, ']'), "lax.yaml", lax),
              // yaml-cpp reports where its scanner was, here the end of the input.
              {"lax.yaml:1:1204: nesting is too deep for the YAML parser (more than 500 levels)"});
}

BOOST_AUTO_TEST_CASE(node_budget) {
  std::string many = "trees:\n  web:\n    children:\n";
  for (int i = 0; i < 30; ++i) {
    many += "      - name: w" + std::to_string(i) + "\n        command: [/bin/true]\n";
  }
  LoadOptions options = testOptions();
  options.max_nodes = 100;
  CHECK_LINES(errorsOf(many, "many.yaml", options),
              {"many.yaml:35:9: trees.web.children[15]: the document has more than 100 nodes, "
               "the limit"});
}

BOOST_AUTO_TEST_CASE(structural_caps) {
  std::string trees = "trees:\n";
  for (int i = 0; i < 65; ++i) trees += "  t" + std::to_string(i) + ": {}\n";
  CHECK_LINES(errorsOf(trees, "trees.yaml"),
              {"trees.yaml:2:3: trees: at most 64 trees are allowed, found 65"});

  std::string workers = "trees:\n  web:\n    children:\n";
  for (int i = 0; i < 5; ++i) {
    workers +=
        "      - {name: w" + std::to_string(i) + ", command: [/bin/true], instances: 1000}\n";
  }
  CHECK_LINES(errorsOf(workers, "workers.yaml"),
              {"workers.yaml:8:9: trees.web.children[4]: too many workers: this one brings the "
               "total to 5000 (counting instances); the limit is 4096"});

  // Four levels of 64-byte names: legal names, but the unit names would exceed 255 bytes
  // (vigil-n-n-n-n.slice and vigil-n-n-n-n-w.service, core/UnitSpec.h).
  const std::string n(64, 'n');
  std::string deep = "trees:\n  " + n + ":\n    children:\n";
  std::string indent = "      ";
  for (int level = 2; level <= 4; ++level) {
    deep += indent + "- name: " + n + "\n" + indent + "  children:\n";
    indent += "    ";
  }
  deep += indent + "- {name: w, command: [/bin/true]}\n";
  const std::string shown = "'vigil-" + std::string(54, 'n') + "...'";
  CHECK_LINES(
      errorsOf(deep, "long.yaml"),
      {"long.yaml:8:17: trees." + n + ".children[0].children[0].children[0]: the unit name " +
           shown + " would be 271 bytes long; systemd allows at most 255; use shorter names",
       "long.yaml:10:21: trees." + n +
           ".children[0].children[0].children[0].children[0]: the unit name " + shown +
           " would be 275 bytes long; systemd allows at most 255; use shorter names"});
}

BOOST_AUTO_TEST_CASE(every_error_is_counted_and_printing_is_capped) {
  std::string yaml;
  for (int i = 0; i < 150; ++i) yaml += "k" + std::to_string(i) + ": 1\n";
  const auto result = loadConfigFromString(yaml, "noisy.yaml", testOptions());
  BOOST_TEST_REQUIRE(!result.has_value());
  BOOST_TEST(result.error().size() == 150u);  // the true total, for "150 error(s)"
  BOOST_TEST(result.error()[0].format() ==
             "noisy.yaml:1:1: unknown key 'k0'; accepted keys: tier, log_level, "
             "metrics, defaults, trees");
  const std::string printed = formatErrors(result.error());
  BOOST_TEST(std::count(printed.begin(), printed.end(), '\n') == 101);
  BOOST_TEST(printed.ends_with(
      "noisy.yaml:100:1: unknown key 'k99'; accepted keys: tier, log_level, metrics, "
      "defaults, trees\n50 more errors not shown\n"));
  BOOST_TEST(formatErrors(result.error(), 149).ends_with("\n1 more error not shown\n"));
  const std::string all = formatErrors(result.error(), 150);
  BOOST_TEST(std::count(all.begin(), all.end(), '\n') == 150);
}

BOOST_AUTO_TEST_CASE(unreadable_files) {
  const fs::path missing = kConfigs / "does-not-exist.yaml";
  auto result = loadConfig(missing, testOptions());
  BOOST_TEST_REQUIRE(!result.has_value());
  CHECK_LINES(format(result.error()),
              {missing.string() + ": cannot open: No such file or directory"});
  result = loadConfig(kConfigs, testOptions());
  BOOST_TEST_REQUIRE(!result.has_value());
  CHECK_LINES(format(result.error()), {kConfigs.string() + ": not a regular file"});
}

BOOST_AUTO_TEST_CASE(error_format_omits_unknown_parts) {
  using vigil::config::ConfigError;
  BOOST_TEST((ConfigError{{"f.yaml", 3, 4}, "a.b", "m", ""}.format()) == "f.yaml:3:4: a.b: m");
  BOOST_TEST((ConfigError{{"f.yaml", 3, 0}, "a.b", "m", ""}.format()) == "f.yaml:3: a.b: m");
  BOOST_TEST((ConfigError{{"f.yaml", 0, 0}, "", "m", ""}.format()) == "f.yaml: m");
  BOOST_TEST((ConfigError{{}, "", "m", "VIGIL_TIER"}.format()) ==
             "environment variable VIGIL_TIER: m");
  BOOST_TEST((ConfigError{{"f.yaml", 3, 4}, "a.b", "m", ""}.formatWarning()) ==
             "f.yaml:3:4: warning: a.b: m");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_tiers)

BOOST_AUTO_TEST_CASE(missing_tier_file_lists_where_it_looked) {
  const fs::path only_tier_1 = kConfigs / "tiers-override";
  CHECK_LINES(fixtureErrors("tier_missing", testOptions({only_tier_1})),
              {"tier_missing.yaml:1:7: tier: tier file 'tier_2.yaml' not found; looked in " +
               only_tier_1.string()});
  CHECK_LINES(errorsOf("", "empty.yaml", testOptions({only_tier_1, kConfigs / "valid"})),
              {"empty.yaml: tier: tier file 'tier_3.yaml' (the default tier) not found; looked "
               "in " +
               only_tier_1.string() + ", " + (kConfigs / "valid").string()});
  LoadOptions env = testOptions({only_tier_1});
  env.tier_override = "tier_3";
  CHECK_LINES(errorsOf("trees: {}\n", "env.yaml", env),
              {"environment variable VIGIL_TIER: tier file 'tier_3.yaml' not found; looked in " +
               only_tier_1.string()});
  CHECK_LINES(errorsOf("", "none.yaml", testOptions({})),
              {"none.yaml: tier: tier file 'tier_3.yaml' (the default tier) not found; looked in "
               "no directories (none configured)"});
}

BOOST_AUTO_TEST_CASE(invalid_tier_names) {
  CHECK_LINES(fixtureErrors("tier_invalid"),
              {"tier_invalid.yaml:1:7: tier: expected one of tier_1, tier_2, tier_3, found "
               "'tier_4'"});
  LoadOptions env = testOptions();
  env.tier_override = "tier_9";
  CHECK_LINES(
      errorsOf("trees: {}\n", "env.yaml", env),
      {"environment variable VIGIL_TIER: expected one of tier_1, tier_2, tier_3, found 'tier_9'"});
}

BOOST_AUTO_TEST_CASE(errors_in_the_tier_file_are_reported_with_its_path) {
  const fs::path bad = kConfigs / "tiers-bad" / "tier_3.yaml";
  CHECK_LINES(
      errorsOf("trees: {}\n", "vigil.yaml", testOptions({kConfigs / "tiers-bad"})),
      {bad.string() + ":2:12: log_level: expected one of trace, debug, info, warn, "
                      "error, found 'loud'",
       bad.string() + ":3:1: unknown key 'trees'; accepted keys: log_level, metrics, defaults",
       bad.string() + ":6:10: defaults.backoff.max: expected a duration no shorter than "
                      "backoff.initial (1s, the built-in default), found '500ms'"});
}

BOOST_AUTO_TEST_CASE(vigil_tier_overrides_the_file_and_admin_dir_comes_first) {
  LoadOptions options = testOptions();
  options.tier_override = "tier_1";
  // no_trees.yaml says tier_2; VIGIL_TIER wins. Its own log_level still beats the tier's.
  Config c = loadFixture("no_trees", options);
  BOOST_TEST(c.tier == "tier_1");
  BOOST_TEST(c.log_level == "error");

  c = loadFixture("merge", options);
  BOOST_TEST(c.tier == "tier_1");
  BOOST_TEST(c.log_level == "debug");  // tier_1's
  const WorkerSpec& w = worker(tree(c, "web"), 1);
  BOOST_TEST(w.backoff.initial.count() == Usec(100ms).count());  // tier_1's
  BOOST_TEST(*w.limits.memory_max == 512 * MiB);                 // config defaults still win
  BOOST_TEST(!w.limits.tasks_max.has_value());                   // tier_1 sets none

  // The admin override directory is searched first.
  options.tier_dirs = {kConfigs / "tiers-override", kTiers};
  c = loadFixture("empty", options);
  BOOST_TEST(c.log_level == "trace");
  c = loadFixture("merge", options);
  BOOST_TEST(c.log_level == "trace");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_values)

BOOST_AUTO_TEST_CASE(empty_file_means_default_tier_and_nothing_supervised) {
  const Config c = loadFixture("empty");
  BOOST_TEST(c.tier == "tier_3");
  BOOST_TEST(c.log_level == "warn");  // from the fixture tier_3
  BOOST_TEST(c.trees.empty());
  BOOST_TEST(c.source_file == "empty.yaml");
  const Config n = loadFixture("no_trees");
  BOOST_TEST(n.tier == "tier_2");
  BOOST_TEST(n.log_level == "error");
  BOOST_TEST(n.trees.empty());
}

BOOST_AUTO_TEST_CASE(merge_order_builtin_tier_defaults_worker) {
  const Config c = loadFixture("merge");
  BOOST_TEST(c.tier == "tier_3");
  BOOST_TEST(c.log_level == "warn");
  BOOST_TEST_REQUIRE(c.trees.size() == 2u);
  const SupervisorSpec& web = tree(c, "web");

  // own memory_max; tasks_max from the tier survives (limits merge per key); the tree's
  // slice limits (2G, tasks 5) are not inherited.
  const WorkerSpec& own = worker(web, 0);
  BOOST_TEST(*own.limits.memory_max == 256 * MiB);
  BOOST_TEST(*own.limits.tasks_max == 100u);
  BOOST_TEST(!own.limits.cpu_weight.has_value());
  BOOST_TEST(own.restart == RestartPolicy::Transient);               // tier
  BOOST_TEST(own.backoff.initial.count() == Usec(2s).count());       // tier
  BOOST_TEST(own.backoff.max.count() == Usec(2min).count());         // config defaults
  BOOST_TEST(own.backoff.multiplier == 2.0);                         // built-in
  BOOST_TEST(own.backoff.jitter == 0.2);                             // built-in
  BOOST_TEST(own.backoff.reset_after.count() == Usec(60s).count());  // built-in
  BOOST_TEST(own.stop.signal == 15);                                 // built-in
  BOOST_TEST(own.stop.timeout.count() == Usec(20s).count());         // tier
  BOOST_TEST(own.start_timeout.count() == Usec(45s).count());        // tier

  const WorkerSpec& nothing = worker(web, 1);
  BOOST_TEST(*nothing.limits.memory_max == 512 * MiB);  // config defaults over the tier's 1G
  BOOST_TEST(*nothing.limits.tasks_max == 100u);

  const WorkerSpec& everything = worker(web, 2);
  BOOST_TEST(everything.restart == RestartPolicy::Permanent);
  BOOST_TEST(*everything.limits.memory_max == vigil::core::kUnlimited);
  BOOST_TEST(*everything.limits.tasks_max == 7u);
  BOOST_TEST(*everything.limits.cpu_weight == 50u);
  BOOST_TEST(everything.backoff.initial.count() == Usec(3s).count());
  BOOST_TEST(everything.backoff.max.count() == Usec(4s).count());
  BOOST_TEST(everything.backoff.multiplier == 1.0);
  BOOST_TEST(everything.backoff.jitter == 0.5);
  BOOST_TEST(everything.backoff.reset_after.count() == Usec(2s).count());
  BOOST_TEST(everything.stop.signal == 9);
  BOOST_TEST(everything.stop.timeout.count() == Usec(1s).count());
  BOOST_TEST(everything.start_timeout.count() == Usec(5s).count());

  // Supervisor intensity: tier's max_restarts (4), config's period (40s), own keys win.
  BOOST_TEST(web.intensity.max_restarts == 4u);
  BOOST_TEST(web.intensity.period.count() == Usec(40s).count());
  BOOST_TEST(*web.limits.memory_max == 2 * 1024 * MiB);
  BOOST_TEST(*web.limits.tasks_max == 5u);
  const SupervisorSpec& batch = tree(c, "batch");
  BOOST_TEST(batch.intensity.max_restarts == 9u);
  BOOST_TEST(batch.intensity.period.count() == Usec(40s).count());
  BOOST_TEST(!batch.limits.memory_max.has_value());
}

BOOST_AUTO_TEST_CASE(builtin_defaults_show_through_an_empty_tier) {
  const Config c = loadConfigFromString(
                       "tier: tier_2\ntrees:\n  t:\n    children:\n      - {name: w, command: "
                       "[/bin/true]}\n",
                       "builtin.yaml", testOptions())
                       .value();
  const WorkerSpec& w = worker(c.trees.at(0), 0);
  const WorkerSpec builtin;
  BOOST_TEST((w.backoff == builtin.backoff));
  BOOST_TEST((w.stop == builtin.stop));
  BOOST_TEST((w.limits == builtin.limits));
  BOOST_TEST(w.restart == builtin.restart);
  BOOST_TEST(w.start_timeout.count() == builtin.start_timeout.count());
  BOOST_TEST((c.trees.at(0).intensity == vigil::core::IntensitySpec{}));
  BOOST_TEST(c.log_level == "info");
}

BOOST_AUTO_TEST_CASE(every_key_is_read) {
  const Config c = loadFixture("full");
  BOOST_TEST(c.tier == "tier_2");
  BOOST_TEST(c.log_level == "trace");
  BOOST_TEST_REQUIRE(c.trees.size() == 2u);
  const SupervisorSpec& web = c.trees[0];
  BOOST_TEST(web.name == "web");
  BOOST_TEST(web.strategy == Strategy::RestForOne);
  BOOST_TEST(web.intensity.max_restarts == 7u);
  BOOST_TEST(web.intensity.period.count() == Usec(45s).count());
  BOOST_TEST(*web.limits.memory_max == 2 * 1024 * MiB);
  BOOST_TEST(*web.limits.cpu_quota == 400u);
  BOOST_TEST(web.where.file == "full.yaml");
  BOOST_TEST(web.where.line == 12);
  BOOST_TEST(web.where.column == 3);

  const WorkerSpec& api = worker(web, 0);
  BOOST_TEST(api.name == "api");
  const std::vector<std::string> argv = {"/usr/bin/python3", "-m", "http.server", "8080", "",
                                         "two words"};
  BOOST_TEST(api.command == argv, boost::test_tools::per_element());
  const std::vector<std::pair<std::string, std::string>> env = {
      {"PORT", "8080"}, {"EMPTY", ""}, {"Mixed_Case_1", "a b"}, {"NUM", "42"}, {"BOOL", "true"}};
  BOOST_TEST((api.environment == env));
  BOOST_TEST(api.working_directory == "/srv/api");
  BOOST_TEST(api.user == "www-data");
  BOOST_TEST(api.group == "1000");
  BOOST_TEST(*api.limits.memory_max == 256 * MiB);
  BOOST_TEST(*api.limits.memory_high == vigil::core::kUnlimited);
  BOOST_TEST(*api.limits.cpu_quota == 50u);
  BOOST_TEST(*api.limits.cpu_weight == 1u);
  BOOST_TEST(*api.limits.tasks_max == 64u);
  BOOST_TEST(*api.limits.io_weight == 10000u);
  BOOST_TEST(api.restart == RestartPolicy::Permanent);
  BOOST_TEST(api.backoff.initial.count() == Usec(500ms).count());
  BOOST_TEST(api.backoff.max.count() == Usec(30s).count());
  BOOST_TEST(api.backoff.multiplier == 3.0);
  BOOST_TEST(api.backoff.jitter == 1.0);
  BOOST_TEST(api.backoff.reset_after.count() == Usec(1min).count());
  BOOST_TEST(api.stop.signal == 15);
  BOOST_TEST(api.stop.timeout.count() == Usec(15s).count());
  BOOST_TEST(api.notify);
  BOOST_TEST(api.watchdog->count() == Usec(30s).count());
  BOOST_TEST(api.instances == 3u);
  BOOST_TEST(api.start_timeout.count() == Usec(2min).count());
  BOOST_TEST(api.where.line == 17);
  BOOST_TEST(api.where.column == 9);

  const SupervisorSpec& parsers = supervisor(web, 1);
  BOOST_TEST(parsers.name == "parsers_v2");
  BOOST_TEST(parsers.strategy == Strategy::OneForAll);
  BOOST_TEST(parsers.intensity.max_restarts == 0u);  // defaults.intensity
  BOOST_TEST(parsers.intensity.period.count() == Usec(90s).count());
  BOOST_TEST(!parsers.limits.memory_max.has_value());
  const WorkerSpec& json = worker(parsers, 0);
  BOOST_TEST(json.stop.signal == 10);
  BOOST_TEST(json.stop.timeout.count() == 0);  // defaults.stop.timeout: 0 = kill at once
  BOOST_TEST(json.user == "_svc$");
  BOOST_TEST(json.restart == RestartPolicy::Temporary);  // defaults
  BOOST_TEST(*json.limits.memory_max == 512 * MiB);
  BOOST_TEST(*json.limits.memory_high == 400 * MiB);
  BOOST_TEST(*json.limits.cpu_quota == 150u);
  BOOST_TEST(*json.limits.cpu_weight == 200u);
  BOOST_TEST(*json.limits.tasks_max == vigil::core::kUnlimited);
  BOOST_TEST(*json.limits.io_weight == 300u);
  BOOST_TEST(json.backoff.initial.count() == Usec(250ms).count());
  BOOST_TEST(json.backoff.max.count() == Usec(2min).count());
  BOOST_TEST(json.backoff.multiplier == 1.5);
  BOOST_TEST(json.backoff.jitter == 0.0);
  BOOST_TEST(json.backoff.reset_after.count() == Usec(1h).count());
  BOOST_TEST(json.start_timeout.count() == Usec(std::chrono::seconds(31557600)).count());  // 1y
  BOOST_TEST(!json.notify);
  BOOST_TEST(!json.watchdog.has_value());
  BOOST_TEST(json.instances == 1u);
  BOOST_TEST(supervisor(parsers, 1).children.empty());

  const SupervisorSpec& db = c.trees[1];
  BOOST_TEST(db.name == "db");
  BOOST_TEST(worker(db, 0).notify);
  BOOST_TEST(worker(db, 0).command.at(0) == "/usr/lib/postgresql/15/bin/postgres");
}

BOOST_AUTO_TEST_CASE(eight_supervisor_levels_and_many_instances_are_fine) {
  const Config c = loadFixture("nested");
  const SupervisorSpec* s = &c.trees.at(0);
  for (int level = 2; level <= 8; ++level) {
    BOOST_TEST(worker(*s, 0).name == "w" + std::to_string(level - 1));
    s = &supervisor(*s, 1);
    BOOST_TEST(s->name == "l" + std::to_string(level));
  }
  BOOST_TEST(worker(*s, 0).instances == 1000u);
}

BOOST_AUTO_TEST_CASE(every_invalid_fixture_has_a_test_and_every_valid_one_loads) {
  std::set<std::string> invalid;
  for (const auto& entry : fs::directory_iterator(kConfigs / "invalid")) {
    invalid.insert(entry.path().stem().string());
  }
  BOOST_TEST(invalid == kCoveredFixtures, boost::test_tools::per_element());
  for (const auto& entry : fs::directory_iterator(kConfigs / "valid")) {
    loadFixture(entry.path().stem().string());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shipped_config)

BOOST_AUTO_TEST_CASE(example_and_tiers_load_cleanly) {
  LoadOptions options;
  options.tier_dirs = {kRepoTiers};
  const auto result = loadConfig(kRepoConfig / "example.yaml", options);
  if (!result) BOOST_FAIL("config/example.yaml:\n" << formatErrors(result.error()));
  BOOST_TEST(result->tier == "tier_3");
  BOOST_TEST(result->trees.size() == 3u);
  for (const std::string tier : {"tier_1", "tier_2", "tier_3"}) {
    options.tier_override = tier;
    const auto r = loadConfig(kRepoConfig / "example.yaml", options);
    if (!r) BOOST_FAIL("config/example.yaml with " << tier << ":\n" << formatErrors(r.error()));
    BOOST_TEST(r->tier == tier);
    const auto empty = loadConfigFromString("", "empty.yaml", options);
    if (!empty) BOOST_FAIL(tier << ":\n" << formatErrors(empty.error()));
  }
}

BOOST_AUTO_TEST_CASE(the_installed_default_supervises_nothing) {
  // What the package puts in /etc/vigil/vigil.yaml: vigild runs, no demo process does.
  LoadOptions options;
  options.tier_dirs = {kRepoTiers};
  ConfigErrors warnings;
  const auto result = loadConfig(kRepoConfig / "vigil.yaml", options, &warnings);
  if (!result) BOOST_FAIL("config/vigil.yaml:\n" << formatErrors(result.error()));
  BOOST_TEST(result->tier == "tier_3");
  BOOST_TEST(result->trees.empty());
  BOOST_TEST(warnings.empty());
}

BOOST_AUTO_TEST_CASE(a_source_checkout_finds_its_own_tiers_and_checks_on_this_host) {
  // `vigild --check-config config/example.yaml` from a build tree: the tiers next to the
  // file are found without --tier-dir, and the example passes the host checks on Debian
  // (it only needs /bin/sh, /var/tmp, nobody and nogroup).
  const auto dirs = vigil::config::defaultTierDirs(kRepoConfig / "example.yaml");
  // Then the installed tiers: <sysconfdir>/vigil/tiers (the package's conffiles), then
  // <datadir>/vigil/tiers.
  BOOST_TEST_REQUIRE(dirs.size() == 3u);
  BOOST_TEST(dirs[0] == kRepoConfig / "tiers");
  BOOST_TEST(dirs[1] == fs::path(vigil::util::kSysconfDir) / "tiers");
  BOOST_TEST(dirs[2] == fs::path(vigil::util::kTierDir));
  LoadOptions options;
  options.tier_dirs = dirs;
  options.host_checks = vigil::config::HostChecks::Error;
  ConfigErrors warnings;
  const auto result = loadConfig(kRepoConfig / "example.yaml", options, &warnings);
  if (!result) BOOST_FAIL("config/example.yaml:\n" << formatErrors(result.error()));
  BOOST_TEST(warnings.empty(), vigil::config::formatWarnings(warnings));
  // The installed layout: /etc/vigil/vigil.yaml -> /etc/vigil/tiers first.
  const auto etc = vigil::config::defaultTierDirs("/etc/vigil/vigil.yaml");
  BOOST_TEST(etc[0] == fs::path("/etc/vigil/tiers"));
  // Each directory once (a package build's <sysconfdir>/vigil/tiers is /etc/vigil/tiers).
  for (std::size_t i = 0; i < etc.size(); i++)
    for (std::size_t j = i + 1; j < etc.size(); j++) BOOST_TEST(etc[i] != etc[j]);
  BOOST_TEST(vigil::config::defaultTierDirs("vigil.yaml")[0] == fs::path("tiers"));
}

BOOST_AUTO_TEST_CASE(shipped_tiers_have_the_documented_stance) {
  LoadOptions options;
  options.tier_dirs = {kRepoTiers};
  const std::string one_worker =
      "trees:\n  t:\n    children:\n      - {name: w, command: [/bin/true]}\n";
  const auto load = [&](const std::string& tier) {
    options.tier_override = tier;
    return loadConfigFromString(one_worker, "t.yaml", options).value();
  };
  const Config t1 = load("tier_1");
  const Config t3 = load("tier_3");
  BOOST_TEST(t1.log_level == "debug");
  BOOST_TEST(load("tier_2").log_level == "info");
  BOOST_TEST(t3.log_level == "info");
  BOOST_TEST(t3.trees[0].intensity.max_restarts == 3u);
  BOOST_TEST(t3.trees[0].intensity.period.count() == Usec(30s).count());
  BOOST_TEST(worker(t3.trees[0], 0).backoff.initial.count() == Usec(1s).count());
  BOOST_TEST(worker(t3.trees[0], 0).backoff.max.count() == Usec(5min).count());
  BOOST_TEST(!worker(t3.trees[0], 0).limits.memory_max.has_value());
  BOOST_TEST(t1.trees[0].intensity.max_restarts > t3.trees[0].intensity.max_restarts);
  // metrics: 1s while experimenting and validating, 5s in production; 15min of history,
  // /metrics on loopback, no textfile.
  BOOST_TEST(t1.metrics.interval.count() == Usec(1s).count());
  BOOST_TEST(load("tier_2").metrics.interval.count() == Usec(1s).count());
  BOOST_TEST(t3.metrics.interval.count() == Usec(5s).count());
  BOOST_TEST(t3.metrics.history.count() == Usec(15min).count());
  BOOST_TEST(t3.metrics.listen == "127.0.0.1:9753");
  BOOST_TEST(t3.metrics.textfile.empty());
  BOOST_TEST((worker(t1.trees[0], 0).backoff.max < worker(t3.trees[0], 0).backoff.max));
}

BOOST_AUTO_TEST_CASE(the_example_error_in_example_yaml_is_accurate) {
  // config/example.yaml quotes the error it would produce with memory_max: lots; keep it true.
  std::string text = readText(kRepoConfig / "example.yaml");
  const std::string quoted_prefix = "#   vigil.yaml:";
  const auto at = text.find(quoted_prefix);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  const std::string quoted = text.substr(at + 4, text.find('\n', at) - at - 4);  // after "#   "
  const auto value = text.find("memory_max: 128M");
  BOOST_TEST_REQUIRE(value != std::string::npos);
  text.replace(value, std::string("memory_max: 128M").size(), "memory_max: lots");
  LoadOptions options;
  options.tier_dirs = {kRepoTiers};
  CHECK_LINES(errorsOf(text, "vigil.yaml", options), {quoted});
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

std::string healthWorker(const std::string& health) {
  return "trees:\n  web:\n    children:\n      - name: api\n        command: [/bin/sleep, "
         "inf]\n        health:\n" +
         health;
}

const vigil::core::HealthSpec& healthOf(const Config& c) {
  return c.trees.at(0).children.at(0).worker->health;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(health_settings)

BOOST_AUTO_TEST_CASE(defaults_and_each_probe_kind) {
  using Probe = vigil::core::HealthSpec::Probe;
  const Config http =
      loadConfigFromString(healthWorker("          http: http://127.0.0.1:8080/healthz\n"),
                           "h.yaml", testOptions())
          .value();
  const auto& h = healthOf(http);
  BOOST_TEST((h.probe == Probe::Http));
  BOOST_TEST(h.url == "http://127.0.0.1:8080/healthz");
  BOOST_TEST(h.status_min == 200u);
  BOOST_TEST(h.status_max == 399u);
  BOOST_TEST(h.interval.count() == Usec(10s).count());
  BOOST_TEST(h.timeout.count() == Usec(5s).count());
  BOOST_TEST(h.start_period.count() == 0);
  BOOST_TEST(h.failures == 3u);
  BOOST_TEST(h.successes == 1u);
  BOOST_TEST(h.restart);
  BOOST_TEST(!h.memory_pressure);

  const Config full =
      loadConfigFromString(
          healthWorker("          http: {url: 'https://[::1]:8443/ready?x=1', status: 200-204, "
                       "body: ok}\n"
                       "          interval: 2s\n          timeout: 500ms\n"
                       "          start_period: 30s\n          failures: 2\n"
                       "          successes: 3\n          restart: false\n"
                       "          memory_pressure: {above: 12.5%, for: 1min}\n"),
          "h.yaml", testOptions())
          .value();
  const auto& f = healthOf(full);
  BOOST_TEST(f.url == "https://[::1]:8443/ready?x=1");
  BOOST_TEST(f.status_min == 200u);
  BOOST_TEST(f.status_max == 204u);
  BOOST_TEST(f.body == "ok");
  BOOST_TEST(f.interval.count() == Usec(2s).count());
  BOOST_TEST(f.timeout.count() == Usec(500ms).count());
  BOOST_TEST(f.start_period.count() == Usec(30s).count());
  BOOST_TEST(f.failures == 2u);
  BOOST_TEST(f.successes == 3u);
  BOOST_TEST(!f.restart);
  BOOST_REQUIRE(f.memory_pressure);
  BOOST_TEST(f.memory_pressure->above_centipercent == 1250u);
  BOOST_TEST(f.memory_pressure->duration.count() == Usec(1min).count());

  const Config tcp_config =
      loadConfigFromString(healthWorker("          tcp: '[::1]:5432'\n"), "h.yaml", testOptions())
          .value();
  const auto& tcp = healthOf(tcp_config);
  BOOST_TEST((tcp.probe == Probe::Tcp));
  BOOST_TEST(tcp.address == "[::1]:5432");

  // %i (the instance) in a url or an address is checked as the number it becomes.
  const Config per_instance =
      loadConfigFromString(healthWorker("          tcp: '127.0.0.1:90%i'\n"), "h.yaml",
                           testOptions())
          .value();
  BOOST_TEST(healthOf(per_instance).address == "127.0.0.1:90%i");
  BOOST_TEST(
      healthOf(loadConfigFromString(healthWorker("          http: 'http://127.0.0.1:80%i/'\n"),
                                    "h.yaml", testOptions())
                   .value())
          .url == "http://127.0.0.1:80%i/");

  const Config exec_config =
      loadConfigFromString(healthWorker("          exec: [/usr/bin/pg_isready, -q]\n"), "h.yaml",
                           testOptions())
          .value();
  const auto& exec = healthOf(exec_config);
  BOOST_TEST((exec.probe == Probe::Exec));
  BOOST_TEST(exec.argv == (std::vector<std::string>{"/usr/bin/pg_isready", "-q"}));
}

BOOST_AUTO_TEST_CASE(every_key_is_checked_with_its_location) {
  CHECK_LINES(
      errorsOf(healthWorker("          http: ftp://host/x\n"
                            "          tcp: localhost:80\n"
                            "          interval: 500ms\n"
                            "          failures: 0\n"
                            "          successes: 101\n"
                            "          restart: maybe\n"
                            "          retries: 3\n"),
               "h.yaml"),
      {"h.yaml:7:17: trees.web.children[0].health.http: expected an http:// or https:// URL "
       "with a host, like http://127.0.0.1:8080/healthz, found 'ftp://host/x'",
       "h.yaml:8:16: trees.web.children[0].health.tcp: one probe per worker: http is set "
       "already (use exec with a script to combine checks)",
       "h.yaml:9:21: trees.web.children[0].health.interval: expected a duration from 1s to 1d, "
       "found '500ms'",
       "h.yaml:10:21: trees.web.children[0].health.failures: expected an integer from 1 to 100, "
       "found '0'",
       "h.yaml:11:22: trees.web.children[0].health.successes: expected an integer from 1 to "
       "100, found '101'",
       "h.yaml:12:20: trees.web.children[0].health.restart: expected true or false, found "
       "'maybe'",
       "h.yaml:13:11: trees.web.children[0].health: unknown key 'retries'; accepted keys: "
       "http, tcp, exec, interval, timeout, start_period, failures, successes, restart, "
       "memory_pressure"});
  CHECK_LINES(errorsOf(healthWorker("          tcp: localhost:80\n"), "h.yaml"),
              {"h.yaml:7:16: trees.web.children[0].health.tcp: expected an address like "
               "127.0.0.1:9753 or [::1]:9753 (a numeric IPv4 or bracketed IPv6 literal and a "
               "port): 'localhost' is not a numeric IPv4 address, found 'localhost:80'"});
  CHECK_LINES(errorsOf(healthWorker("          exec: [check]\n"), "h.yaml"),
              {"h.yaml:7:18: trees.web.children[0].health.exec[0]: expected an absolute path "
               "like /usr/local/bin/check, found 'check'"});
  CHECK_LINES(
      errorsOf(healthWorker("          http: {url: 'http://h/', status: 700, body: ''}\n"),
               "h.yaml"),
      {"h.yaml:7:44: trees.web.children[0].health.http.status: expected an HTTP status like "
       "200, or a range like 200-299 (100 to 599), found '700'",
       "h.yaml:7:55: trees.web.children[0].health.http.body: expected a string of 1 to 1024 "
       "bytes, found ''"});
  CHECK_LINES(
      errorsOf(healthWorker("          tcp: 127.0.0.1:80\n          timeout: 20s\n"), "h.yaml"),
      {"h.yaml:8:20: trees.web.children[0].health.timeout: health.timeout (20s) must not "
       "be longer than health.interval (10s)"});
  CHECK_LINES(
      errorsOf(healthWorker("          memory_pressure: {above: 140%, for: 1min}\n"), "h.yaml"),
      {"h.yaml:7:36: trees.web.children[0].health.memory_pressure.above: expected a percentage "
       "like 40% (0% to 100%, two decimals), found '140%'"});
  CHECK_LINES(errorsOf(healthWorker("          interval: 5s\n"), "h.yaml"),
              {"h.yaml:7:11: trees.web.children[0].health: health needs a probe (http, tcp or "
               "exec) or a memory_pressure rule"});
}

BOOST_AUTO_TEST_CASE(timeout_defaults_to_the_interval_when_shorter) {
  const Config c =
      loadConfigFromString(healthWorker("          tcp: 127.0.0.1:80\n          interval: 2s\n"),
                           "h.yaml", testOptions())
          .value();
  BOOST_TEST(healthOf(c).timeout.count() == Usec(2s).count());
  // A timeout that did not parse is one error, not a second one about the interval.
  CHECK_LINES(
      errorsOf(healthWorker("          tcp: 127.0.0.1:80\n          timeout: soon\n"), "h.yaml"),
      {"h.yaml:8:20: trees.web.children[0].health.timeout: expected a duration like 30s "
       "or 1min 30s, found 'soon'"});
}

BOOST_AUTO_TEST_CASE(instance_placeholders_are_checked_for_every_instance) {
  // Without instances %i is empty: no port.
  CHECK_LINES(errorsOf(healthWorker("          tcp: '127.0.0.1:%i'\n"), "h.yaml"),
              {"h.yaml:7:16: trees.web.children[0].health.tcp: expected an address like "
               "127.0.0.1:9753 or [::1]:9753 (a numeric IPv4 or bracketed IPv6 literal and a "
               "port): no port, found '127.0.0.1:%i' (%i is empty for a worker without "
               "instances: 127.0.0.1:)"});
  // 10 instances of 6553%i: 65531..65539 are fine, 655310 is not.
  const std::string many =
      "trees:\n  web:\n    children:\n      - name: api\n        command: [/bin/sleep, "
      "inf]\n        instances: 10\n        health:\n          http: 'http://h:6553%i/'\n";
  CHECK_LINES(errorsOf(many, "h.yaml"),
              {"h.yaml:8:17: trees.web.children[0].health.http: expected an http:// or https:// "
               "URL with a host, like http://127.0.0.1:8080/healthz, found 'http://h:6553%i/'"});
  for (const char* bad :
       {"http://h:99999/", "http://h:abc/", "http://[::1/", "http://h:/", "http://:80/"}) {
    BOOST_TEST(
        errorsOf(healthWorker(std::string("          http: '") + bad + "'\n"), "h.yaml").size() ==
            1u,
        bad);
  }
  for (const char* good : {"http://[::1]:8080/x", "https://example.org/", "http://h:1/"}) {
    BOOST_TEST(loadConfigFromString(healthWorker(std::string("          http: '") + good + "'\n"),
                                    "h.yaml", testOptions())
                   .has_value(),
               good);
  }
}

BOOST_AUTO_TEST_CASE(a_health_change_is_a_policy_change_not_a_restart) {
  const Config a =
      loadConfigFromString(healthWorker("          tcp: 127.0.0.1:80\n"), "h.yaml", testOptions())
          .value();
  const Config b =
      loadConfigFromString(healthWorker("          tcp: 127.0.0.1:81\n"), "h.yaml", testOptions())
          .value();
  const auto plan = vigil::core::planReload(a, b, {}, {});
  BOOST_REQUIRE(plan.lines.size() == 1u);
  BOOST_TEST((plan.lines[0].kind == vigil::core::PlanLine::Kind::Update));
  BOOST_TEST(plan.lines[0].reason == "health changed");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics_settings)

BOOST_AUTO_TEST_CASE(built_in_then_tier_then_configuration_key_by_key) {
  // The fixture tiers set no metrics: the built-in defaults.
  const Config builtin = loadConfigFromString("trees: {}\n", "m.yaml", testOptions()).value();
  BOOST_TEST(builtin.metrics.interval.count() == Usec(5s).count());
  BOOST_TEST(builtin.metrics.history.count() == Usec(15min).count());
  BOOST_TEST(builtin.metrics.listen == "127.0.0.1:9753");
  BOOST_TEST(builtin.metrics.textfile.empty());

  LoadOptions shipped;
  shipped.tier_dirs = {kRepoTiers};
  shipped.tier_override = "tier_1";
  const Config c = loadConfigFromString(
                       "metrics:\n  history: 5min\n  listen: '[::1]:9100'\n"
                       "  textfile: /var/lib/prometheus/node-exporter\n",
                       "m.yaml", shipped)
                       .value();
  BOOST_TEST(c.metrics.interval.count() == Usec(1s).count());  // from tier_1
  BOOST_TEST(c.metrics.history.count() == Usec(5min).count());
  BOOST_TEST(c.metrics.listen == "[::1]:9100");
  BOOST_TEST(c.metrics.textfile == "/var/lib/prometheus/node-exporter");

  const Config off =
      loadConfigFromString("metrics: {listen: \"\", history: 0}\n", "m.yaml", testOptions())
          .value();
  BOOST_TEST(off.metrics.listen.empty());
  BOOST_TEST(off.metrics.history.count() == 0);
}

BOOST_AUTO_TEST_CASE(every_key_is_checked_with_its_location) {
  CHECK_LINES(
      errorsOf("metrics:\n"
               "  interval: 100ms\n"
               "  listen: localhost:9753\n"
               "  textfile: prom\n"
               "  port: 9753\n",
               "m.yaml"),
      {"m.yaml:2:13: metrics.interval: expected a duration from 200ms to 1h, found '100ms'",
       "m.yaml:3:11: metrics.listen: expected an address like 127.0.0.1:9753 or [::1]:9753 "
       "(a numeric IPv4 or bracketed IPv6 literal and a port): 'localhost' is not a numeric "
       "IPv4 address, found 'localhost:9753'",
       "m.yaml:4:13: metrics.textfile: expected an absolute directory path, found 'prom'",
       "m.yaml:5:3: metrics: unknown key 'port'; accepted keys: interval, history, listen, "
       "textfile"});
  CHECK_LINES(errorsOf("metrics: {listen: '127.0.0.1:0'}\n", "m.yaml"),
              {"m.yaml:1:19: metrics.listen: expected an address like 127.0.0.1:9753 or "
               "[::1]:9753 (a numeric IPv4 or bracketed IPv6 literal and a port): the port must be "
               "a number from 1 to 65535, found '127.0.0.1:0'"});
  CHECK_LINES(errorsOf("metrics: {listen: '::1:9753'}\n", "m.yaml"),
              {"m.yaml:1:19: metrics.listen: expected an address like 127.0.0.1:9753 or "
               "[::1]:9753 (a numeric IPv4 or bracketed IPv6 literal and a port): write an IPv6 "
               "address in brackets, found '::1:9753'"});
  CHECK_LINES(errorsOf("metrics: [1s]\n", "m.yaml"),
              {"m.yaml:1:10: metrics: expected a mapping, found a sequence"});
}

BOOST_AUTO_TEST_CASE(the_history_must_fit_the_interval) {
  CHECK_LINES(errorsOf("metrics: {interval: 10s, history: 5s}\n", "m.yaml"),
              {"m.yaml:1:35: metrics.history: metrics.history 5s is shorter than "
               "metrics.interval 10s; use 0 for no history"});
  // 2h at 1s is 7200 samples: the error points at the key this file set.
  LoadOptions shipped;
  shipped.tier_dirs = {kRepoTiers};
  shipped.tier_override = "tier_1";
  CHECK_LINES(errorsOf("metrics: {history: 2h}\n", "m.yaml", shipped),
              {"m.yaml:1:20: metrics.history: metrics.history 2h (from m.yaml) at "
               "metrics.interval 1s is 7200 samples; at most 3600 are kept per cgroup (20 bytes "
               "each): shorten the history or lengthen the interval"});
  // A short interval against the tier's 15min of history: the interval is what changed.
  const std::string tier_1 = (kRepoTiers / "tier_1.yaml").string();
  CHECK_LINES(errorsOf("metrics: {interval: 200ms}\n", "m.yaml", shipped),
              {"m.yaml:1:21: metrics.interval: metrics.history 15min (from " + tier_1 +
               ") at metrics.interval 200ms is 4500 samples; at most 3600 are kept per cgroup "
               "(20 bytes each): shorten the history or lengthen the interval"});
  BOOST_TEST(loadConfigFromString("metrics: {interval: 200ms, history: 10min}\n", "m.yaml", shipped)
                 .has_value());
  // One mistake, one error: an interval out of range is not also compared to the history.
  CHECK_LINES(errorsOf("metrics: {interval: 100ms, history: 100ms}\n", "m.yaml"),
              {"m.yaml:1:21: metrics.interval: expected a duration from 200ms to 1h, found "
               "'100ms'"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(names_and_spec)

BOOST_AUTO_TEST_CASE(name_rule) {
  using vigil::config::checkName;
  for (const std::string& ok :
       std::vector<std::string>{"api", "web_1", "v2_1", "A", "_x", "0", std::string(64, 'x')}) {
    BOOST_TEST(!checkName(ok).has_value(), ok);
  }
  for (const std::string& bad :
       std::vector<std::string>{"", "web-api", ".x", "a.", "a..b", "v2.1", "x.service", "a b",
                                "a/b", "a@b", "a\\b", "caf\xc3\xa9", std::string(65, 'x')}) {
    BOOST_TEST(checkName(bad).has_value(), bad);
  }
  // The character set is defined once, and each rejection suggests a name that passes it.
  BOOST_TEST(*checkName("a..b") ==
             "name 'a..b' contains '.'; names are identifiers of ASCII letters, digits and '_': "
             "use 'a_b'");
  BOOST_TEST(*checkName("a.") ==
             "name 'a.' contains '.'; names are identifiers of ASCII letters, digits and '_': "
             "use 'a'");
  BOOST_TEST(*checkName("x.service") ==
             "name 'x.service' looks like a unit name; vigil names units itself (worker x of "
             "tree t runs as vigil-t-x.service): use 'x'");
  BOOST_TEST(*checkName("web-api") ==
             "name 'web-api' contains '-', which vigil reserves as the slice hierarchy separator "
             "(vigil-a-b.slice is a child of vigil-a.slice); names are identifiers of ASCII "
             "letters, digits and '_': use 'web_api'");
  for (const std::string& bad :
       std::vector<std::string>{"web-api", ".x", "a.", "a..b", "x.service", "a b", "a/b", "--"}) {
    const std::string message = *checkName(bad);
    const auto quote = message.rfind("use '");
    BOOST_TEST_REQUIRE(quote != std::string::npos, message);
    const std::string suggestion = message.substr(quote + 5, message.size() - quote - 6);
    BOOST_TEST(!checkName(suggestion).has_value(), bad << " -> " << suggestion);
  }
}

BOOST_AUTO_TEST_CASE(spec_helpers) {
  using vigil::core::ChildSpec;
  using vigil::core::toString;
  BOOST_TEST(std::string(toString(RestartPolicy::Permanent)) == "permanent");
  BOOST_TEST(std::string(toString(RestartPolicy::Transient)) == "transient");
  BOOST_TEST(std::string(toString(RestartPolicy::Temporary)) == "temporary");
  BOOST_TEST(std::string(toString(Strategy::OneForOne)) == "one_for_one");
  BOOST_TEST(std::string(toString(Strategy::OneForAll)) == "one_for_all");
  BOOST_TEST(std::string(toString(Strategy::RestForOne)) == "rest_for_one");

  BOOST_TEST(std::string(toString(vigil::core::NotifyAccess::All)) == "all");
  const Config c = loadFixture("full");
  BOOST_TEST(c.trees[0].children[0].name() == "api");
  BOOST_TEST(c.trees[0].children[1].name() == "parsers_v2");
  BOOST_TEST(ChildSpec{}.name().empty());
}

BOOST_AUTO_TEST_SUITE_END()
