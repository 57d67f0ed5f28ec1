// The unit policy: which properties a worker's service and a supervisor's slice get, and
// in which D-Bus types. (The VM tests check that systemd accepts and applies them.)

#include <boost/test/unit_test.hpp>

#include "core/UnitProperties.h"

using namespace vigil::core;
using namespace std::chrono_literals;

namespace {

const PropertyValue* find(const UnitProperties& props, const std::string& name) {
  for (const auto& p : props)
    if (p.name == name) return &p.value;
  return nullptr;
}

template <typename T>
T get(const UnitProperties& props, const std::string& name) {
  const PropertyValue* v = find(props, name);
  BOOST_TEST_REQUIRE(v, "no property " << name);
  BOOST_TEST_REQUIRE(std::holds_alternative<T>(*v), name << " has another type");
  return std::get<T>(*v);
}

WorkerSpec api() {
  WorkerSpec w;
  w.name = "api";
  w.command = {"/usr/bin/api", "--port", "$PORT"};
  w.environment = {{"PORT", "8080"}};
  w.user = "www-data";
  w.limits.memory_max = 256u << 20;
  w.limits.cpu_quota = 150;
  w.limits.runtime_max = 1h;
  w.limits.nofile = ResourceLimit{1024, 65536};
  w.stop = {15, 30s};
  w.start_timeout = 90s;
  return w;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(unit_properties)

BOOST_AUTO_TEST_CASE(a_worker_service_gets_the_documented_properties_in_order) {
  const UnitProperties p = serviceProperties(buildUnitSpec(api(), {"web"}, 0));
  std::vector<std::string> names;
  for (const auto& prop : p) names.push_back(prop.name);
  BOOST_TEST(names == (std::vector<std::string>{"Description",
                                                "Slice",
                                                "Type",
                                                "Restart",
                                                "KillMode",
                                                "CollectMode",
                                                "KillSignal",
                                                "TimeoutStopUSec",
                                                "SendSIGKILL",
                                                "TimeoutStartUSec",
                                                "MemoryAccounting",
                                                "CPUAccounting",
                                                "TasksAccounting",
                                                "IOAccounting",
                                                "MemoryMax",
                                                "CPUQuotaPerSecUSec",
                                                "RuntimeMaxUSec",
                                                "LimitNOFILE",
                                                "LimitNOFILESoft",
                                                "Environment",
                                                "User",
                                                "PartOf",
                                                "Before",
                                                "LogExtraFields",
                                                "ExecStartEx"}),
             boost::test_tools::per_element());
  BOOST_TEST(get<std::string>(p, "Type") == "exec");
  BOOST_TEST(get<std::string>(p, "Restart") == "no");
  BOOST_TEST(get<std::string>(p, "Slice") == "vigil-web.slice");
  BOOST_TEST(get<std::int32_t>(p, "KillSignal") == 15);
  BOOST_TEST(get<std::uint64_t>(p, "TimeoutStopUSec") == 30000000u);
  BOOST_TEST(get<std::uint64_t>(p, "CPUQuotaPerSecUSec") == 1500000u);  // 150% = 1.5 s/s
  BOOST_TEST(get<std::uint64_t>(p, "RuntimeMaxUSec") == 3600000000u);
  BOOST_TEST(get<std::uint64_t>(p, "LimitNOFILE") == 65536u);
  BOOST_TEST(get<std::uint64_t>(p, "LimitNOFILESoft") == 1024u);
  BOOST_TEST(get<std::vector<std::string>>(p, "PartOf") ==
             std::vector<std::string>{"vigil.target"});
  BOOST_TEST(get<std::vector<std::string>>(p, "Before") ==
             std::vector<std::string>{"vigil-workers.target"});
  const auto exec = get<ExecCommand>(p, "ExecStartEx");
  BOOST_TEST(exec.path == "/usr/bin/api");
  BOOST_TEST(exec.argv == (std::vector<std::string>{"/usr/bin/api", "--port", "$PORT"}));
  BOOST_TEST(exec.flags == std::vector<std::string>{"no-env-expand"});
  const auto fields = get<JournalFields>(p, "LogExtraFields").fields;
  BOOST_TEST_REQUIRE(fields.size() == 4u);
  BOOST_TEST(fields[2].first == "VIGIL_WORKER");
  BOOST_TEST(fields[2].second == "web/api");
  BOOST_TEST(!find(p, "vigild.service"));  // never ordered against vigild
  BOOST_TEST(!find(p, "NotifyAccess"));
  BOOST_TEST(!find(p, "MemoryHigh"));  // unset limits are left to systemd on a worker
}

BOOST_AUTO_TEST_CASE(notify_brutal_kill_and_watchdog) {
  WorkerSpec w = api();
  w.notify = true;
  w.notify_access = NotifyAccess::All;
  w.watchdog = 10s;
  w.stop.timeout = 0s;
  const UnitProperties p = serviceProperties(buildUnitSpec(w, {"web"}, 2));
  BOOST_TEST(get<std::string>(p, "Type") == "notify");
  BOOST_TEST(get<std::string>(p, "NotifyAccess") == "all");
  BOOST_TEST(get<std::uint64_t>(p, "WatchdogUSec") == 10000000u);
  BOOST_TEST(get<std::int32_t>(p, "KillSignal") == 9);  // brutal_kill
  BOOST_TEST(get<std::uint64_t>(p, "TimeoutStopUSec") == 5000000u);
  const auto env = get<std::vector<std::string>>(p, "Environment");
  BOOST_TEST(env == (std::vector<std::string>{"PORT=8080", "VIGIL_INSTANCE=2"}));
}

BOOST_AUTO_TEST_CASE(a_slice_sends_every_unset_limit_as_infinity) {
  Limits budget;
  budget.memory_max = 1u << 30;
  const UnitProperties created = sliceProperties("vigil supervisor web", budget, true);
  BOOST_TEST(get<std::string>(created, "Description") == "vigil supervisor web");
  BOOST_TEST(get<std::uint64_t>(created, "MemoryMax") == 1u << 30);
  for (const char* unset :
       {"MemoryHigh", "CPUQuotaPerSecUSec", "CPUWeight", "TasksMax", "IOWeight"})
    BOOST_TEST(get<std::uint64_t>(created, unset) == UINT64_MAX, unset);
  const UnitProperties updated = sliceProperties("vigil supervisor web", budget, false);
  BOOST_TEST(!find(updated, "Description"));  // a live slice keeps its description
  BOOST_TEST(!find(updated, "RuntimeMaxUSec"));
  BOOST_TEST(!find(updated, "LimitNOFILE"));
}

BOOST_AUTO_TEST_CASE(a_failed_worker_stays_loaded_for_its_restart_in_place) {
  const UnitProperties p = serviceProperties(buildUnitSpec(api(), {"web"}, 0));
  BOOST_TEST(get<std::string>(p, "CollectMode") == "inactive");
}

BOOST_AUTO_TEST_CASE(the_digest_changes_with_any_value_and_only_then) {
  const UnitProperties base = serviceProperties(buildUnitSpec(api(), {"web"}, 0));
  BOOST_TEST(propertiesDigest(base) ==
             propertiesDigest(serviceProperties(buildUnitSpec(api(), {"web"}, 0))));
  BOOST_TEST(propertiesDigest(base) != propertiesDigest({}));

  WorkerSpec more_memory = api();
  more_memory.limits.memory_max = 512u << 20;
  BOOST_TEST(propertiesDigest(base) !=
             propertiesDigest(serviceProperties(buildUnitSpec(more_memory, {"web"}, 0))));
  WorkerSpec other_argv = api();
  other_argv.command = {"/usr/bin/api", "--port", "$PORT", "-v"};
  BOOST_TEST(propertiesDigest(base) !=
             propertiesDigest(serviceProperties(buildUnitSpec(other_argv, {"web"}, 0))));

  // Same bytes, other boundaries or types: still different.
  BOOST_TEST(propertiesDigest({{"A", std::vector<std::string>{"ab", "c"}}}) !=
             propertiesDigest({{"A", std::vector<std::string>{"a", "bc"}}}));
  BOOST_TEST(propertiesDigest({{"A", std::uint64_t{1}}}) != propertiesDigest({{"A", true}}));
  BOOST_TEST(propertiesDigest({{"A", std::string("x")}, {"B", std::string("y")}}) !=
             propertiesDigest({{"B", std::string("y")}, {"A", std::string("x")}}));
}

BOOST_AUTO_TEST_SUITE_END()
