// Inputs the loader once got wrong, each kind with its right value: unterminated quotes,
// stop signals by number, leading zeros, impossible and implausible limits, the host
// checks, and the worker keys added with them (runtime_max, nofile, core, notify_access).

#include <signal.h>
#include <string.h>

#include <filesystem>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "config/ConfigLoader.h"
#include "core/Spec.h"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using vigil::config::ConfigErrors;
using vigil::config::HostChecks;
using vigil::config::loadConfigFromString;
using vigil::config::LoadOptions;
using vigil::core::Config;

namespace {

const fs::path kTiers = fs::path(VIGIL_FIXTURES_DIR) / "configs" / "tiers";

LoadOptions options(HostChecks host = HostChecks::Off) {
  LoadOptions o;
  o.tier_dirs = {kTiers};
  o.host_checks = host;
  return o;
}

struct Loaded {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::optional<Config> config;
};

Loaded load(const std::string& yaml, HostChecks host = HostChecks::Off) {
  Loaded l;
  ConfigErrors warnings;
  auto r = loadConfigFromString(yaml, "c.yaml", options(host), &warnings);
  if (r) {
    l.config = std::move(*r);
  } else {
    for (const auto& e : r.error()) l.errors.push_back(e.format());
  }
  for (const auto& w : warnings) l.warnings.push_back(w.formatWarning());
  return l;
}

// A one-worker configuration with `keys` (YAML flow mapping entries) added to the worker.
std::string worker(const std::string& keys) {
  return "trees:\n  t:\n    children:\n      - {name: w, command: [/bin/true], " + keys + "}\n";
}

std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

#define CHECK_LINES(actual, ...)                                                  \
  do {                                                                            \
    const std::vector<std::string> expected_lines = __VA_ARGS__;                  \
    const std::vector<std::string> actual_lines = (actual);                       \
    BOOST_TEST(actual_lines == expected_lines, boost::test_tools::per_element()); \
  } while (0)

}  // namespace

BOOST_AUTO_TEST_SUITE(unterminated_quotes)

BOOST_AUTO_TEST_CASE(a_quote_left_open_at_the_end_is_a_syntax_error_at_the_quote) {
  // yaml-cpp 0.7 took everything to the end of the file as the value: A became
  // "abc B: def " and B was lost.
  const std::string env =
      "trees:\n  t:\n    children:\n      - name: w\n        command: [/bin/true]\n"
      "        environment:\n          A: \"abc\n          B: def\n";
  CHECK_LINES(load(env).errors,
              {"c.yaml:7:14: YAML syntax error: this double-quoted string is never closed (no "
               "matching \" before the end of the file)"});
  CHECK_LINES(load("tier: \"tier_3\n").errors,
              {"c.yaml:1:7: YAML syntax error: this double-quoted string is never closed (no "
               "matching \" before the end of the file)"});
  CHECK_LINES(load(worker("working_directory: '/srv") + "\n").errors,
              {"c.yaml:4:60: YAML syntax error: this single-quoted string is never closed (no "
               "matching ' before the end of the file)"});
  CHECK_LINES(load("trees:\n  \"t: {}\n").errors,
              {"c.yaml:2:3: YAML syntax error: this double-quoted string is never closed (no "
               "matching \" before the end of the file)"});
}

BOOST_AUTO_TEST_CASE(closed_quotes_spanning_lines_and_escaped_quotes_stay_valid) {
  const auto l = load(
      "trees:\n  t:\n    children:\n      - name: w\n        command: [/bin/sh, -c, \"echo a\n"
      "          b \\\" c\", 'it''s']\n");
  BOOST_TEST_REQUIRE(l.errors.empty(), join(l.errors));
  const auto& argv = l.config->trees[0].children[0].worker->command;
  BOOST_TEST(argv[2] == "echo a b \" c");
  BOOST_TEST(argv[3] == "it's");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stop_signals)

BOOST_AUTO_TEST_CASE(numbers_follow_the_same_rule_as_names) {
  // For every signal: accepted as a number exactly when accepted by name, with the same
  // signal as the result.
  for (int sig = 1; sig <= SIGRTMAX; ++sig) {
    std::string name;
    if (sig >= SIGRTMIN) {
      name = "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
    } else if (const char* abbrev = sigabbrev_np(sig)) {
      name = std::string("SIG") + abbrev;
    } else {
      continue;  // 32, 33: reserved by glibc, no name
    }
    const auto by_number = load(worker("stop: {signal: " + std::to_string(sig) + "}"));
    const auto by_name = load(worker("stop: {signal: \"" + name + "\"}"));
    BOOST_TEST(by_number.errors.empty() == by_name.errors.empty(), name);
    if (by_number.config && by_name.config) {
      BOOST_TEST(by_number.config->trees[0].children[0].worker->stop.signal == sig, name);
      BOOST_TEST(by_name.config->trees[0].children[0].worker->stop.signal == sig, name);
    }
  }
  for (const int sig : {SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGKILL, SIGUSR1, SIGUSR2, SIGALRM,
                        SIGTERM, SIGWINCH, SIGPWR, SIGRTMIN, SIGRTMAX}) {
    BOOST_TEST(load(worker("stop: {signal: " + std::to_string(sig) + "}")).errors.empty(), sig);
  }
}

BOOST_AUTO_TEST_CASE(signals_that_cannot_stop_a_service_say_why) {
  const std::string what =
      "expected a signal name (SIGHUP, SIGINT, SIGQUIT, SIGABRT, SIGKILL, SIGUSR1, SIGUSR2, "
      "SIGALRM, SIGTERM, SIGWINCH, SIGPWR, SIGRTMIN+N) or its number";
  const std::string at = "c.yaml:4:56: trees.t.children[0].stop.signal: ";
  CHECK_LINES(load(worker("stop: {signal: 19}")).errors,
              {at + what +
               ", found '19': SIGSTOP (19) cannot stop a service: it suspends the "
               "process instead of ending it"});
  CHECK_LINES(load(worker("stop: {signal: SIGSTOP}")).errors,
              {at + what +
               ", found 'SIGSTOP': SIGSTOP (19) cannot stop a service: it suspends "
               "the process instead of ending it"});
  CHECK_LINES(load(worker("stop: {signal: 17}")).errors,
              {at + what +
               ", found '17': SIGCHLD (17) cannot stop a service: processes ignore "
               "it by default"});
  CHECK_LINES(load(worker("stop: {signal: 18}")).errors,
              {at + what +
               ", found '18': SIGCONT (18) cannot stop a service: processes ignore "
               "it by default"});
  CHECK_LINES(load(worker("stop: {signal: 11}")).errors,
              {at + what +
               ", found '11': SIGSEGV (11) cannot stop a service: it reports a "
               "crash, not a request to stop"});
  CHECK_LINES(load(worker("stop: {signal: 0}")).errors, {at + what + ", found '0'"});
  CHECK_LINES(load(worker("stop: {signal: 65}")).errors, {at + what + ", found '65'"});
  CHECK_LINES(load(worker("stop: {signal: 32}")).errors, {at + what + ", found '32'"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(leading_zeros)

BOOST_AUTO_TEST_CASE(every_integer_with_a_leading_zero_is_rejected_with_its_plain_form) {
  struct Case {
    std::string keys;
    std::string key_path;
    std::string what;
  };
  const std::string w = "trees.t.children[0].";
  const std::vector<Case> cases = {
      {"instances: 010", w + "instances", "an integer from 1 to 1000"},
      {"limits: {cpu_weight: 010}", w + "limits.cpu_weight", "an integer from 1 to 10000"},
      {"limits: {io_weight: 010}", w + "limits.io_weight", "an integer from 1 to 10000"},
      {"limits: {tasks_max: 010}", w + "limits.tasks_max", "an integer of at least 1 or infinity"},
      {"limits: {cpu_quota: 010%}", w + "limits.cpu_quota",
       "a CPU quota like 50% or 200% (1% to 100000%)"},
      {"limits: {memory_max: 010}", w + "limits.memory_max", "a size like 512M"},
      {"limits: {runtime_max: 010}", w + "limits.runtime_max", "a duration like 30s or 1min 30s"},
      {"start_timeout: 010", w + "start_timeout", "a duration like 30s or 1min 30s"},
      {"stop: {timeout: 010}", w + "stop.timeout", "a duration like 30s or 1min 30s"},
      {"backoff: {multiplier: 010}", w + "backoff.multiplier",
       "a number from 1 to 1000 like 2 or 1.5"},
  };
  for (const auto& c : cases) {
    const auto l = load(worker(c.keys));
    BOOST_TEST_REQUIRE(l.errors.size() == 1u, c.keys);
    const std::string found = c.keys.find('%') != std::string::npos ? "'010%'" : "'010'";
    const std::string tail = c.key_path + ": expected " + c.what + ", found " + found +
                             " (a leading zero is ambiguous: YAML 1.1 reads 010 as "
                             "an octal number; write 10)";
    BOOST_TEST(l.errors[0].ends_with(tail), l.errors[0]);
  }
  const auto l = load(worker("limits: {nofile: 010}"));
  BOOST_TEST_REQUIRE(l.errors.size() == 1u);
  BOOST_TEST(l.errors[0].find("found '010' (a leading zero is ambiguous") != std::string::npos);
  BOOST_TEST(load(worker("stop: {signal: 015}")).errors.size() == 1u);
  BOOST_TEST(load("trees:\n  t: {intensity: {max_restarts: 03}}\n").errors.size() == 1u);
}

BOOST_AUTO_TEST_CASE(zero_itself_and_decimals_are_fine) {
  const auto l = load(worker("stop: {timeout: 0}, limits: {core: 0}, backoff: {multiplier: 01.5}"));
  BOOST_TEST_REQUIRE(l.errors.empty(), join(l.errors));
  const auto& w = *l.config->trees[0].children[0].worker;
  BOOST_TEST(w.backoff.multiplier == 1.5);
  BOOST_TEST(w.stop.timeout.count() == 0);
  BOOST_TEST(load("trees:\n  t: {intensity: {max_restarts: 0}}\n").errors.empty());
  BOOST_TEST(load(worker("instances: 10")).config->trees[0].children[0].worker->instances == 10u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(limit_combinations)

BOOST_AUTO_TEST_CASE(impossible_limits_are_errors_where_they_are_written) {
  CHECK_LINES(load(worker("limits: {memory_max: 100M, memory_high: 200M}")).errors,
              {"c.yaml:4:81: trees.t.children[0].limits.memory_high: expected a size no larger "
               "than limits.memory_max (100M, set at c.yaml:4:62), found '200M': memory_high "
               "above memory_max can never take effect"});
  CHECK_LINES(load(worker("limits: {memory_max: 1}")).errors,
              {"c.yaml:4:62: trees.t.children[0].limits.memory_max: expected a size of at least "
               "192K, found '1': no program can start in less memory"});
  // Set in the defaults, reported once there, not for every worker; a worker that lowers
  // memory_max below the inherited memory_high is the one blamed.
  CHECK_LINES(load("defaults: {limits: {memory_max: 100K}}\ntrees:\n  t:\n    children:\n"
                   "      - {name: a, command: [/bin/true]}\n"
                   "      - {name: b, command: [/bin/true]}\n")
                  .errors,
              {"c.yaml:1:33: defaults.limits.memory_max: expected a size of at least 192K, found "
               "'100K': no program can start in less memory"});
  CHECK_LINES(load("defaults: {limits: {memory_high: 1G}}\n" +
                   worker("limits: {memory_max: 512M}").substr(0))
                  .errors,
              {"c.yaml:5:62: trees.t.children[0].limits.memory_max: expected a size no smaller "
               "than limits.memory_high (1G, set at c.yaml:1:34), found '512M': memory_high "
               "above memory_max can never take effect"});
  // A supervisor's slice budget follows the same rules.
  CHECK_LINES(load("trees:\n  t: {limits: {memory_max: 64K}}\n").errors,
              {"c.yaml:2:28: trees.t.limits.memory_max: expected a size of at least 192K, found "
               "'64K': no program can start in less memory"});
  CHECK_LINES(load(worker("limits: {nofile: \"2048:1024\"}")).errors,
              {"c.yaml:4:58: trees.t.children[0].limits.nofile: expected the soft limit no larger "
               "than the hard one, found '2048:1024'"});
  // memory_high: infinity is "not set", never above memory_max.
  BOOST_TEST(load(worker("limits: {memory_max: 256M, memory_high: infinity}")).errors.empty());
}

BOOST_AUTO_TEST_CASE(implausible_limits_are_warnings_and_the_file_stays_valid) {
  const auto l = load(
      "trees:\n  t:\n    limits: {memory_max: 1G, tasks_max: 100}\n    children:\n"
      "      - {name: w, command: [/bin/true], limits: {memory_max: 1M, nofile: 16}}\n"
      "      - {name: v, command: [/bin/true], limits: {memory_max: 2G, tasks_max: 200, "
      "memory_high: 1M}}\n");
  BOOST_TEST_REQUIRE(l.errors.empty(), join(l.errors));
  CHECK_LINES(l.warnings,
              {"c.yaml:5:62: warning: trees.t.children[0].limits.memory_max: '1M' is less memory "
               "than a service needs to run (a shell alone needs about 1M); the worker will "
               "likely be killed by the OOM killer at once",
               "c.yaml:5:74: warning: trees.t.children[0].limits.nofile: '16' open files leave "
               "almost nothing beyond stdin, stdout and stderr",
               "c.yaml:6:62: warning: trees.t.children[1].limits.memory_max: '2G' is above the "
               "budget of supervisor trees.t (1G, set at c.yaml:3:26): the worker can never use "
               "more than 1G",
               "c.yaml:6:77: warning: trees.t.children[1].limits.tasks_max: '200' is above the "
               "budget of supervisor trees.t (100, set at c.yaml:3:41): the worker can never use "
               "more than 100",
               "c.yaml:6:95: warning: trees.t.children[1].limits.memory_high: '1M' is less "
               "memory than a service needs to run; the kernel will throttle the worker at "
               "once"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(worker_limits_and_notify)

BOOST_AUTO_TEST_CASE(runtime_max_nofile_and_core_are_read) {
  const auto l = load(worker("limits: {runtime_max: 1h, nofile: 65536, core: \"0:infinity\"}"));
  BOOST_TEST_REQUIRE(l.errors.empty(), join(l.errors));
  const auto& lim = l.config->trees[0].children[0].worker->limits;
  BOOST_TEST(lim.runtime_max->count() == vigil::core::Usec(1h).count());
  BOOST_TEST(lim.nofile->soft == 65536u);
  BOOST_TEST(lim.nofile->hard == 65536u);
  BOOST_TEST(lim.core->soft == 0u);
  BOOST_TEST(lim.core->hard == vigil::core::kUnlimited);
  const auto soft_hard = load(worker("limits: {nofile: \"1024:524288\", core: 512M}"));
  BOOST_TEST_REQUIRE(soft_hard.errors.empty(), join(soft_hard.errors));
  const auto& lim2 = soft_hard.config->trees[0].children[0].worker->limits;
  BOOST_TEST(lim2.nofile->soft == 1024u);
  BOOST_TEST(lim2.nofile->hard == 524288u);
  BOOST_TEST(lim2.core->hard == 512u << 20);
  // Inherited from defaults like every other limit.
  const auto inherited =
      load("defaults: {limits: {runtime_max: 30min}}\n" + worker("instances: 2"));
  BOOST_TEST(inherited.config->trees[0].children[0].worker->limits.runtime_max->count() ==
             vigil::core::Usec(30min).count());
}

BOOST_AUTO_TEST_CASE(bad_worker_limits_and_slice_limits_are_rejected) {
  const std::string w = "c.yaml:4:58: trees.t.children[0].limits.";
  CHECK_LINES(load(worker("limits: {nofile: infinity}")).errors,
              {w + "nofile: expected a number of open files like 65536, or SOFT:HARD like "
                   "1024:65536 (3 to 1073741816), found 'infinity'"});
  CHECK_LINES(load(worker("limits: {nofile: 2}")).errors,
              {w + "nofile: expected a number of open files like 65536, or SOFT:HARD like "
                   "1024:65536 (3 to 1073741816), found '2'"});
  CHECK_LINES(load(worker("limits: {core: lots}")).errors,
              {"c.yaml:4:56: trees.t.children[0].limits.core: expected a core file size like 0 "
               "(none), 512M or infinity, or "
               "SOFT:HARD like 0:infinity, found 'lots'"});
  CHECK_LINES(load(worker("limits: {runtime_max: 0}")).errors,
              {"c.yaml:4:63: trees.t.children[0].limits.runtime_max: expected a positive "
               "duration like 1s, found '0'"});
  CHECK_LINES(load("trees:\n  t: {limits: {runtime_max: 1h, nofile: 100}}\n").errors,
              {"c.yaml:2:16: trees.t.limits: unknown key 'runtime_max'; accepted keys: "
               "memory_max, memory_high, cpu_quota, cpu_weight, tasks_max, io_weight (a "
               "supervisor's limits are the budget of its slice; runtime_max, nofile and core "
               "apply to workers)",
               "c.yaml:2:33: trees.t.limits: unknown key 'nofile'; accepted keys: memory_max, "
               "memory_high, cpu_quota, cpu_weight, tasks_max, io_weight (a supervisor's limits "
               "are the budget of its slice; runtime_max, nofile and core apply to workers)"});
}

BOOST_AUTO_TEST_CASE(notify_access_defaults_to_all_and_needs_notify) {
  using vigil::core::NotifyAccess;
  const auto l = load(worker("notify: true"));
  BOOST_TEST((l.config->trees[0].children[0].worker->notify_access == NotifyAccess::All));
  const auto main = load(worker("notify: true, notify_access: main"));
  BOOST_TEST((main.config->trees[0].children[0].worker->notify_access == NotifyAccess::Main));
  CHECK_LINES(load(worker("notify_access: exec")).errors,
              {"c.yaml:4:56: trees.t.children[0].notify_access: notify_access requires notify: "
               "true (it says which processes may send READY=1 and WATCHDOG=1)"});
  CHECK_LINES(load(worker("notify: true, notify_access: some")).errors,
              {"c.yaml:4:70: trees.t.children[0].notify_access: expected one of main, exec, all, "
               "found 'some'"});
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(host_checks)

BOOST_AUTO_TEST_CASE(missing_users_directories_and_executables_are_errors_for_check_config) {
  const std::string yaml =
      "trees:\n  t:\n    children:\n"
      "      - name: w\n"
      "        command: [/nonexistent/vigil-test-binary]\n"
      "        user: vigil_no_such_user\n"
      "        group: vigil_no_such_group\n"
      "        working_directory: /nonexistent/vigil-test-dir\n"
      "      - name: v\n"
      "        command: [/etc/passwd]\n"
      "        working_directory: /etc/passwd\n"
      "      - {name: ok, command: [/bin/sh], user: root, group: root, working_directory: /}\n";
  CHECK_LINES(
      load(yaml, HostChecks::Error).errors,
      {"c.yaml:5:19: trees.t.children[0].command[0]: '/nonexistent/vigil-test-binary': No such "
       "file or directory (on this host the start would fail with status 203/EXEC)",
       "c.yaml:6:15: trees.t.children[0].user: user 'vigil_no_such_user': no such user on this "
       "host (on this host the start would fail with status 217/USER)",
       "c.yaml:7:16: trees.t.children[0].group: group 'vigil_no_such_group': no such group on "
       "this host (on this host the start would fail with status 216/GROUP)",
       "c.yaml:8:28: trees.t.children[0].working_directory: '/nonexistent/vigil-test-dir': No "
       "such file or directory (on this host the start would fail with status 200/CHDIR)",
       "c.yaml:10:19: trees.t.children[1].command[0]: '/etc/passwd': not executable (mode 0644) "
       "(on this host the start would fail with status 203/EXEC)",
       "c.yaml:11:28: trees.t.children[1].working_directory: '/etc/passwd': not a directory (on "
       "this host the start would fail with status 200/CHDIR)"});
  // vigild: the same facts as warnings; the file is applied.
  const auto warned = load(yaml, HostChecks::Warn);
  BOOST_TEST(warned.errors.empty());
  BOOST_TEST(warned.warnings.size() == 6u);
  BOOST_TEST(warned.warnings[1] ==
             "c.yaml:6:15: warning: trees.t.children[0].user: user 'vigil_no_such_user': no such "
             "user on this host (on this host the start would fail with status 217/USER)");
  // --no-host-checks: not looked up at all.
  const auto off = load(yaml, HostChecks::Off);
  BOOST_TEST(off.errors.empty());
  BOOST_TEST(off.warnings.empty());
  // Numeric ids must exist too (systemd resolves them; 4000000000 is no one).
  CHECK_LINES(load(worker("user: \"4000000000\""), HostChecks::Error).errors,
              {"c.yaml:4:47: trees.t.children[0].user: user '4000000000': no such user on this "
               "host (on this host the start would fail with status 217/USER)"});
  BOOST_TEST(load(worker("user: \"0\", group: \"0\""), HostChecks::Error).errors.empty());
}

BOOST_AUTO_TEST_SUITE_END()
