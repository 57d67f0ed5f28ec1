// core::HealthTracker with a fake clock: the start period, the failure and success
// thresholds, recovery, flapping, and the memory pressure rule.

#include <chrono>
#include <optional>
#include <ostream>

#include <boost/test/unit_test.hpp>

#include "core/HealthTracker.h"

using namespace std::chrono_literals;
using vigil::core::HealthChange;
using vigil::core::HealthSpec;
using vigil::core::HealthState;
using vigil::core::HealthTracker;
using vigil::core::TimePoint;

namespace vigil::core {
std::ostream& operator<<(std::ostream& os, HealthState s);
std::ostream& operator<<(std::ostream& os, HealthState s) {
  return os << toString(s);
}
}  // namespace vigil::core

namespace {

HealthSpec httpSpec(unsigned failures = 3, unsigned successes = 1, vigil::core::Usec grace = 0s) {
  HealthSpec s;
  s.probe = HealthSpec::Probe::Http;
  s.url = "http://127.0.0.1:8080/healthz";
  s.failures = failures;
  s.successes = successes;
  s.start_period = grace;
  return s;
}

TimePoint at(vigil::core::Usec t) {
  return TimePoint{t};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(health_tracker)

BOOST_AUTO_TEST_CASE(starts_starting_and_one_success_makes_it_healthy) {
  HealthTracker t(httpSpec(), at(0s));
  BOOST_TEST(t.state() == HealthState::Starting);
  const auto c = t.onProbe(true, "http 200", at(10s));
  BOOST_REQUIRE(c);
  BOOST_TEST(c->from == HealthState::Starting);
  BOOST_TEST(c->to == HealthState::Healthy);
  BOOST_TEST(c->detail == "http: http 200");
  BOOST_TEST(!t.onProbe(true, "http 200", at(20s)));  // no change, nothing reported
}

BOOST_AUTO_TEST_CASE(unhealthy_only_after_failures_in_a_row) {
  HealthTracker t(httpSpec(3), at(0s));
  t.onProbe(true, "http 200", at(10s));
  BOOST_TEST(!t.onProbe(false, "http 503", at(20s)));
  BOOST_TEST(!t.onProbe(false, "http 503", at(30s)));
  BOOST_TEST(t.consecutiveFailures() == 2u);
  BOOST_TEST(t.state() == HealthState::Healthy);
  const auto c = t.onProbe(false, "http 503", at(40s));
  BOOST_REQUIRE(c);
  BOOST_TEST(c->to == HealthState::Unhealthy);
  BOOST_TEST(c->detail == "http: http 503");
}

BOOST_AUTO_TEST_CASE(a_success_resets_the_failure_count_flapping_never_trips) {
  HealthTracker t(httpSpec(3), at(0s));
  t.onProbe(true, "http 200", at(1s));
  for (int i = 0; i < 20; ++i) {
    BOOST_TEST(!t.onProbe(false, "http 503", at(10s * (2 * i + 2))));
    BOOST_TEST(!t.onProbe(false, "http 503", at(10s * (2 * i + 2) + 1s)));
    BOOST_TEST(!t.onProbe(true, "http 200", at(10s * (2 * i + 3))));
  }
  BOOST_TEST(t.state() == HealthState::Healthy);
}

BOOST_AUTO_TEST_CASE(failures_in_the_start_period_do_not_count) {
  HealthTracker t(httpSpec(2, 1, 30s), at(100s));
  BOOST_TEST(!t.onProbe(false, "connect refused", at(110s)));
  BOOST_TEST(!t.onProbe(false, "connect refused", at(120s)));
  BOOST_TEST(!t.onProbe(false, "connect refused", at(129s)));
  BOOST_TEST(t.consecutiveFailures() == 0u);
  BOOST_TEST(t.state() == HealthState::Starting);
  // The period ends at 130s: from there failures count.
  BOOST_TEST(!t.onProbe(false, "connect refused", at(130s)));
  const auto c = t.onProbe(false, "connect refused", at(140s));
  BOOST_REQUIRE(c);
  BOOST_TEST(c->from == HealthState::Starting);
  BOOST_TEST(c->to == HealthState::Unhealthy);
}

BOOST_AUTO_TEST_CASE(a_success_in_the_start_period_ends_it) {
  HealthTracker t(httpSpec(2, 1, 60s), at(0s));
  BOOST_REQUIRE(t.onProbe(true, "http 200", at(5s)));
  BOOST_TEST(t.state() == HealthState::Healthy);
  // Healthy now: failures count even though 60s have not passed.
  BOOST_TEST(!t.onProbe(false, "http 500", at(10s)));
  const auto c = t.onProbe(false, "http 500", at(15s));
  BOOST_REQUIRE(c);
  BOOST_TEST(c->to == HealthState::Unhealthy);
}

BOOST_AUTO_TEST_CASE(recovery_needs_successes_in_a_row) {
  HealthTracker t(httpSpec(1, 3), at(0s));
  BOOST_TEST(!t.onProbe(true, "http 200", at(1s)));
  BOOST_TEST(!t.onProbe(true, "http 200", at(2s)));
  BOOST_REQUIRE(t.onProbe(true, "http 200", at(3s)));   // third: healthy
  BOOST_REQUIRE(t.onProbe(false, "http 503", at(4s)));  // failures 1: unhealthy
  BOOST_TEST(t.state() == HealthState::Unhealthy);
  BOOST_TEST(!t.onProbe(true, "http 200", at(5s)));
  BOOST_TEST(!t.onProbe(true, "http 200", at(6s)));
  BOOST_TEST(!t.onProbe(false, "http 503", at(7s)));  // the run of successes starts over
  BOOST_TEST(!t.onProbe(true, "http 200", at(8s)));
  BOOST_TEST(!t.onProbe(true, "http 200", at(9s)));
  const auto c = t.onProbe(true, "http 200", at(10s));
  BOOST_REQUIRE(c);
  BOOST_TEST(c->from == HealthState::Unhealthy);
  BOOST_TEST(c->to == HealthState::Healthy);
}

BOOST_AUTO_TEST_CASE(memory_pressure_trips_after_for_and_clears_below) {
  HealthSpec s;
  s.memory_pressure = HealthSpec::PressureRule{4000, 60s};
  HealthTracker t(s, at(0s));
  BOOST_TEST(t.state() == HealthState::Healthy);  // no probe: healthy from the start
  BOOST_TEST(!t.onMemoryPressure(5000, at(10s)));
  BOOST_TEST(!t.onMemoryPressure(std::nullopt, at(20s)));  // not read: no change
  BOOST_TEST(!t.onMemoryPressure(4500, at(69s)));          // 59s above
  auto c = t.onMemoryPressure(5230, at(70s));              // 60s above
  BOOST_REQUIRE(c);
  BOOST_TEST(c->to == HealthState::Unhealthy);
  BOOST_TEST(c->detail == "memory_pressure: some avg10 52.30% above 40% for 1min");
  BOOST_TEST(!t.onMemoryPressure(6000, at(80s)));  // reported once
  c = t.onMemoryPressure(4000, at(90s));           // at the threshold: not above
  BOOST_REQUIRE(c);
  BOOST_TEST(c->to == HealthState::Healthy);
}

BOOST_AUTO_TEST_CASE(memory_pressure_dip_restarts_the_window) {
  HealthSpec s;
  s.memory_pressure = HealthSpec::PressureRule{4000, 60s};
  HealthTracker t(s, at(0s));
  BOOST_TEST(!t.onMemoryPressure(5000, at(0s)));
  BOOST_TEST(!t.onMemoryPressure(3000, at(50s)));  // dips below: the clock restarts
  BOOST_TEST(!t.onMemoryPressure(5000, at(55s)));
  BOOST_TEST(!t.onMemoryPressure(5000, at(110s)));
  BOOST_REQUIRE(t.onMemoryPressure(5000, at(115s)));
}

BOOST_AUTO_TEST_CASE(a_tripped_rule_keeps_a_healthy_probe_unhealthy) {
  HealthSpec s = httpSpec();
  s.memory_pressure = HealthSpec::PressureRule{1000, 0s};
  HealthTracker t(s, at(0s));
  BOOST_REQUIRE(t.onProbe(true, "http 200", at(1s)));
  const auto c = t.onMemoryPressure(2000, at(2s));
  BOOST_REQUIRE(c);
  BOOST_TEST(c->to == HealthState::Unhealthy);
  BOOST_TEST(!t.onProbe(true, "http 200", at(3s)));  // still unhealthy: the rule holds
  BOOST_TEST(t.state() == HealthState::Unhealthy);
  const auto back = t.onMemoryPressure(500, at(4s));
  BOOST_REQUIRE(back);
  BOOST_TEST(back->to == HealthState::Healthy);
}

BOOST_AUTO_TEST_CASE(instance_placeholders_and_descriptions) {
  HealthSpec s = httpSpec();
  s.url = "http://127.0.0.1:80%i/healthz?pct=100%%";
  const HealthSpec two = vigil::core::withInstance(s, 2);
  BOOST_TEST(two.url == "http://127.0.0.1:802/healthz?pct=100%");
  BOOST_TEST(vigil::core::withInstance(s, 0).url == "http://127.0.0.1:80/healthz?pct=100%");
  BOOST_TEST(vigil::core::describeHealth(two) ==
             "http GET http://127.0.0.1:802/healthz?pct=100% every 10s");
  HealthSpec e;
  e.probe = HealthSpec::Probe::Exec;
  e.argv = {"/usr/local/bin/check", "--instance=%i"};
  e.interval = 30s;
  e.memory_pressure = HealthSpec::PressureRule{4000, 60s};
  BOOST_TEST(vigil::core::withInstance(e, 3).argv[1] == "--instance=3");
  BOOST_TEST(vigil::core::describeHealth(e) ==
             "exec /usr/local/bin/check every 30s, memory_pressure above 40% for 1min");
}

BOOST_AUTO_TEST_SUITE_END()
