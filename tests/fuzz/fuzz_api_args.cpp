// The arguments of vigild's D-Bus API as the server decodes and checks them (a target, a
// signal, an instance count, SetLimits' (key, value) pairs) handed to the engine's command
// validation, against a running fleet: any input is refused with one error or accepted as
// an operation; a refusal changes nothing (no action is asked of systemd). sd-bus's own
// unmarshalling is fuzzed by systemd (TEST-21-DFUZZER, its fuzz-bus-message).

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "FuzzSupport.h"
#include "config/LimitSettings.h"
#include "core/Engine.h"

using namespace vigil;

namespace {

core::Config fleet() {
  const auto worker = [](const std::string& name, unsigned instances) {
    auto w = std::make_shared<core::WorkerSpec>();
    w->name = name;
    w->command = {"/bin/true"};
    w->instances = instances;
    w->instance_names = instances > 1;
    return w;
  };
  core::SupervisorSpec sub;
  sub.name = "sub";
  sub.children.push_back({worker("x", 1), nullptr});
  core::SupervisorSpec t;
  t.name = "t";
  t.children.push_back({worker("a", 1), nullptr});
  t.children.push_back({worker("w", 3), nullptr});
  t.children.push_back({nullptr, std::make_shared<core::SupervisorSpec>(sub)});
  core::Config c;
  c.tier = "tier_2";
  c.trees.push_back(t);
  return c;
}

// An engine whose every unit is running: each start answered at once.
std::unique_ptr<core::Engine> running() {
  auto e = std::make_unique<core::Engine>(1);
  core::TimePoint now{1'000'000};
  e->start(fleet(), {}, now);
  for (int round = 0; round < 10; ++round) {
    auto actions = e->takeActions();
    if (actions.empty()) break;
    for (const auto& a : actions) {
      if (a.kind == core::Action::Kind::Start)
        e->onStartResult(a.unit.name, a.start_token, true, "", {}, false, now);
      if (a.kind == core::Action::Kind::Slice) e->onSliceResult(a.unit.name, true, "", now);
    }
  }
  (void)e->takeEvents();
  (void)e->takeChanged();
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<core::Engine> engine = running();
  FuzzedDataProvider in(data, size);
  core::Command cmd;
  cmd.kind = static_cast<core::Command::Kind>(in.ConsumeIntegralInRange<int>(0, 9));
  cmd.target = in.ConsumeRandomLengthString(2048);
  cmd.caller = "fuzz";
  cmd.signal = in.ConsumeIntegral<std::int32_t>();
  cmd.main_only = in.ConsumeBool();
  cmd.instances = in.ConsumeIntegral<std::uint32_t>();
  std::vector<std::pair<std::string, std::string>> settings;
  const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 16);
  for (std::size_t i = 0; i < n; ++i)
    settings.emplace_back(in.ConsumeRandomLengthString(64), in.ConsumeRandomLengthString(64));
  if (cmd.kind == core::Command::Kind::SetLimits) {
    auto limits = config::parseLimitSettings(settings);
    if (!limits) return 0;  // refused by the API before the engine
    cmd.limits = *limits;
  }
  (void)engine->checkTarget(cmd.target);
  // Only refusals are tried on the shared engine: an accepted command would change the
  // fleet every later input meets. Accepted ones run on a fresh engine.
  core::TimePoint now{2'000'000};
  if (engine->checkTarget(cmd.target)) {
    auto r = engine->command(cmd, now);
    fuzz::check(!r.has_value(), "an unknown target was accepted", cmd.target);
    fuzz::check(engine->takeActions().empty(), "a refused command asked for actions");
    (void)engine->takeEvents();
    (void)engine->takeCompletions();
    return 0;
  }
  auto fresh = running();
  auto r = fresh->command(cmd, now);
  if (!r) {
    fuzz::check(!r.error().name.empty() && !r.error().message.empty(), "an empty refusal");
    fuzz::check(fresh->takeActions().empty(), "a refused command asked for actions",
                r.error().message);
  }
  return 0;
}
