// daemon/SupervisionStore: the persisted supervision state and the last good configuration
// as files: round trips, every way a file can be unusable (each rejected with its reason,
// set aside, never believed), and the loader's sources and tier texts they rely on.

#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "config/ConfigLoader.h"
#include "daemon/SupervisionStore.h"

using namespace vigil;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const status::Clocks kClocks{core::TimePoint(5'000'000'000), 1'764'000'000'000'000};
const std::string kBoot = "0123456789abcdef0123456789abcdef";

core::SupervisionState sample() {
  core::SupervisionState s;
  auto& a = s.workers["vigil-t-a.service"];
  a.restarts = 3;
  a.failures = 2;
  a.next_restart = kClocks.monotonic + 1500ms;
  a.last_exit = "exited with status 3";
  a.last_exit_reason = "exit-code";
  a.last_exit_kind = "exit-code";
  auto& b = s.workers["vigil-t-b@2.service"];
  b.stopped = true;
  b.stopped_by = "uid 0 (root)";
  core::Limits l;
  l.memory_max = 64u << 20;
  l.cpu_quota = 150;
  l.nofile = core::ResourceLimit{1024, 4096};
  l.runtime_max = core::Usec(3600s);
  b.limits = l;
  s.workers["vigil-t-c.service"].finished = true;
  auto& t = s.supervisors["t"];
  t.window = {kClocks.monotonic - 20s, kClocks.monotonic - 1s};
  t.restart_at = kClocks.monotonic + 800ms;
  t.budget = l;
  auto& f = s.supervisors["f"];
  f.failed = true;
  f.failure = "4 restarts within 1m exceed intensity 3";
  s.supervisors["t/sub"].stopped = true;
  s.scale["t/b"] = 3;
  return s;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("vigil-store-test-" + std::to_string(::getpid()) + "-" +
            std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string readFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_state_round_trips_through_wall_clock_times) {
  const auto text = daemon::encodeSupervisionState(sample(), "digest1", kBoot, kClocks);
  // Another moment of the same boot: both clocks moved by the same amount.
  status::Clocks later = kClocks;
  later.monotonic += 7s;
  later.realtime_usec += 7'000'000;
  auto decoded = daemon::decodeSupervisionState(text, kBoot, later);
  BOOST_REQUIRE_MESSAGE(decoded, decoded.error().message());
  BOOST_TEST(decoded->config_digest == "digest1");
  BOOST_TEST((decoded->state == sample()));
  // Times are wall-clock in the file.
  BOOST_TEST(text.find("\"next_restart_realtime_usec\": 1764000001500000") != std::string::npos,
             text);
}

BOOST_AUTO_TEST_CASE(unusable_states_are_rejected_with_their_reason) {
  const auto good = daemon::encodeSupervisionState(sample(), "d", kBoot, kClocks);
  const auto reject = [](const std::string& text, const std::string& why) {
    auto r = daemon::decodeSupervisionState(text, kBoot, kClocks);
    BOOST_TEST(!r.has_value(), text);
    if (!r) BOOST_TEST(r.error().message().find(why) != std::string::npos, r.error().message());
  };
  reject("", "not valid JSON");
  reject(good.substr(0, good.size() / 2), "not valid JSON");
  reject("[1,2]", "the document: expected an object");
  reject(R"({"format": "other", "version": 1})", "format is not \"vigil-supervision-state\"");
  reject(R"({"format": "vigil-supervision-state", "version": 0, "boot_id": ")" + kBoot + "\"}",
         "version 0 is not the version this vigild reads (1)");
  reject(R"({"format": "vigil-supervision-state", "boot_id": ")" + kBoot + "\"}",
         "version null is not");
  reject(R"({"format": "vigil-supervision-state", "version": 1, "boot_id": "ffff"})",
         "written during an earlier boot");
  const std::string head =
      R"({"format": "vigil-supervision-state", "version": 1, "boot_id": ")" + kBoot + "\", ";
  reject(head + R"("workers": {"u": {"restarts": -1}}})",
         "workers.u.restarts: expected an unsigned");
  reject(head + R"("workers": {"u": {"restarts": 1e3}}})",
         "workers.u.restarts: expected an unsigned");
  reject(head + R"("workers": {"u": {"failures": 99999999999}}})", "beyond the limit");
  reject(head + R"("workers": {"u": {"stopped": "yes"}}})",
         "workers.u.stopped: expected true or false");
  reject(head + R"("workers": {"u": {"colour": 1}}})", "workers.u.colour: unknown field");
  reject(head + R"("workers": {"u": {"next_restart_realtime_usec": 9223372036854775807}}})",
         "out of range");
  reject(head + R"("workers": {"u": {"limits": {"memory_max": "1G"}}}})",
         "workers.u.limits.memory_max: expected an unsigned");
  reject(head + R"("workers": {"u": {"limits": {"swap": 1}}}})", "unknown limit");
  reject(head + R"("workers": []})", "workers: expected an object");
  reject(head + R"("supervisors": {"t": {"window_realtime_usec": 5}}})",
         "expected a list of times");
  reject(head + R"("scale": {"t/w": 5000}})", "scale.t/w: 5000 is beyond the limit of 1000");
}

BOOST_AUTO_TEST_CASE(an_unusable_file_is_set_aside_and_reported) {
  TempDir d;
  daemon::SupervisionStore store(d.path);
  auto none = store.load(kBoot, kClocks);
  BOOST_TEST(!none.state);
  BOOST_TEST(!none.warning);
  BOOST_TEST(none.note.find("no supervision state in") != std::string::npos);

  std::ofstream(store.statePath()) << "{\"format\": \"vigil-supervision-state\", \"vers";
  auto bad = store.load(kBoot, kClocks);
  BOOST_TEST(!bad.state);
  BOOST_TEST(bad.warning);
  BOOST_TEST(bad.note.find("cannot be used: not valid JSON") != std::string::npos, bad.note);
  BOOST_TEST(!fs::exists(store.statePath()));
  BOOST_TEST(fs::exists(d.path / "supervision.json.bad"));

  // From an earlier boot: not a problem, and not kept.
  std::ofstream(store.statePath()) << daemon::encodeSupervisionState(sample(), "", "ffff", kClocks);
  auto old = store.load(kBoot, kClocks);
  BOOST_TEST(!old.state);
  BOOST_TEST(!old.warning);
  BOOST_TEST(old.note.find("earlier boot") != std::string::npos, old.note);

  std::ofstream(store.statePath()) << daemon::encodeSupervisionState(sample(), "", kBoot, kClocks);
  auto ok = store.load(kBoot, kClocks);
  BOOST_REQUIRE(ok.state);
  BOOST_TEST((ok.state->state == sample()));
}

BOOST_AUTO_TEST_CASE(a_failed_write_keeps_the_old_file_and_stays_dirty) {
  TempDir d;
  const fs::path dir = d.path / "state";
  daemon::SupervisionStore store(dir);
  store.markDirty();
  auto failed = store.write("", kBoot, kClocks);
  BOOST_REQUIRE(!failed);
  BOOST_TEST(failed.error().message().find("supervision.json.tmp") != std::string::npos);
  BOOST_TEST(store.dirty());
  fs::create_directories(dir);
  BOOST_TEST(store.write("", kBoot, kClocks).has_value());
  BOOST_TEST(!store.dirty());
  auto back = daemon::decodeSupervisionState(readFile(store.statePath()), kBoot, kClocks);
  BOOST_REQUIRE(back);
  BOOST_TEST(back->state.workers.empty());
}

BOOST_AUTO_TEST_CASE(the_last_good_copy_round_trips_and_a_damaged_one_is_refused) {
  TempDir d;
  daemon::SupervisionStore store(d.path);
  BOOST_TEST(!store.loadLastGood());
  daemon::ConfigCopy copy;
  copy.config_file = "/etc/vigil/vigil.yaml";
  copy.config = "tier: tier_2\ntrees: {}\n";
  copy.tier_file = "tier_2.yaml";
  copy.tier = "defaults: {}\n";
  copy.saved_realtime_usec = 42;
  BOOST_TEST(store.saveLastGood(copy).has_value());
  auto back = store.loadLastGood();
  BOOST_REQUIRE(back);
  BOOST_TEST(back->config == copy.config);
  BOOST_TEST(back->tier == copy.tier);
  BOOST_TEST(back->tier_file == "tier_2.yaml");
  BOOST_TEST(back->saved_realtime_usec == 42);

  // An edit by hand (or a torn disk block) no longer matches the digest.
  std::string text = readFile(store.lastGoodPath());
  text.replace(text.find("trees: {}"), 9, "trees: []");
  std::ofstream(store.lastGoodPath()) << text;
  auto damaged = store.loadLastGood();
  BOOST_REQUIRE(!damaged);
  BOOST_TEST(damaged.error().message().find("does not match") != std::string::npos);
  // A tier file name with a path in it is refused.
  copy.tier_file = "../../etc/passwd";
  auto escaped = daemon::decodeLastGood(daemon::encodeLastGood(copy));
  BOOST_REQUIRE(!escaped);
  BOOST_TEST(escaped.error().message().find("tier_file") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(the_loader_reports_its_sources_and_takes_tier_texts) {
  const std::string yaml =
      "tier: tier_2\ntrees:\n  t:\n    children:\n      - name: a\n        command: [/bin/true]\n";
  config::LoadOptions lo;
  std::vector<config::SourceText> sources;
  lo.sources = &sources;
  lo.tier_texts["tier_2.yaml"] = "defaults:\n  restart: temporary\n";
  auto cfg = config::loadConfigFromString(yaml, "copy.yaml", lo);
  BOOST_REQUIRE(cfg);
  BOOST_REQUIRE(sources.size() == 2u);
  BOOST_TEST(sources[0].path == "copy.yaml");
  BOOST_TEST(sources[0].text == yaml);
  BOOST_TEST(sources[1].path == "tier_2.yaml");
  // The given tier text was used, not a file (there is no tier directory at all).
  BOOST_TEST((cfg->trees[0].children[0].worker->restart == core::RestartPolicy::Temporary));
  const auto copy = daemon::copyOf(sources);
  BOOST_TEST(copy.tier_file == "tier_2.yaml");
  BOOST_TEST(copy.digest() != daemon::ConfigCopy{}.digest());
}
