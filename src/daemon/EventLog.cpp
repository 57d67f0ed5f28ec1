#include "daemon/EventLog.h"

#include <cstdio>

#include <fmt/format.h>
#include <systemd/sd-journal.h>

namespace vigil::daemon {

using core::EventType;

const char* EventLog::messageId(EventType type) {
  // Stable IDs: operators filter on them (journalctl MESSAGE_ID=...), never change them.
  switch (type) {
    case EventType::WorkerStarting:
      return "2aa712229f8a4e5cb849bd34dc8c455e";
    case EventType::WorkerStarted:
      return "31e3605e035a4e988596f17f82c20380";
    case EventType::WorkerStartFailed:
      return "f5fa51ff11b94c5983426d8cf6d014fe";
    case EventType::WorkerExited:
      return "0922a0fceb7f4fc59b7c27df22480569";
    case EventType::WorkerStopping:
      return "386ca94692374164b2b76ab1a866ba3d";
    case EventType::WorkerStopped:
      return "785eeb9d8a8f497aacc927da574b7a09";
    case EventType::WorkerAdopted:
      return "d65cb77280c849dbadf41f793fc424e0";
    case EventType::WorkerNotRestarted:
      return "a97edece29f54a518cb56fe0fbe248a6";
    case EventType::RestartScheduled:
      return "2d4bc9161a0a4d468ada1a1f74a6d6ca";
    case EventType::StrategyApplied:
      return "e5380655e3fc47738c7622012ad6d86b";
    case EventType::IntensityExceeded:
      return "34aed9ed3b16463a8231d81fe4c86c8d";
    case EventType::SupervisorStarted:
      return "9739d167feb443a5a4940097dc2528a8";
    case EventType::SupervisorFailed:
      return "9c532b2238424d2fa4d3478074e9cfb5";
    case EventType::Escalated:
      return "250bfb6b86784b639ca9d38d6ed5e3b7";
    case EventType::TreeFailed:
      return "790fc00931a449b0908a8f6d75c20b8c";
    case EventType::ConfigApplied:
      return "b2fbfa1da9a7410297cf628f4258345c";
    case EventType::UnitRemoved:
      return "bb3cd559973d4861a2024d9c3f080a77";
    case EventType::SliceFailed:
      return "36d9f7d0c42c40a592f7b4963531f9f5";
    case EventType::OperatorCommand:
      return "3c770892b0c54fe182b6fe44cbcbabda";
    case EventType::ConfigRejected:
      return "b8989c27bfb84f12acbffd0271f8af85";
    case EventType::WorkerHealth:
      return "7d9b3d9e717a491ca000f5fe318e0ec9";
  }
  return "00000000000000000000000000000000";
}

namespace {
constexpr const char* kConfigWarningId = "055d019de58d4739a9b34ddf064f0f93";
}  // namespace

int EventLog::priority(const core::Event& e) {
  switch (e.type) {
    case EventType::WorkerStartFailed:
    case EventType::SliceFailed:
    case EventType::IntensityExceeded:
    case EventType::SupervisorFailed:
    case EventType::TreeFailed:
    case EventType::ConfigRejected:
      return 3;
    case EventType::WorkerExited:
    case EventType::Escalated:
      return e.reason == "clean" ? 5 : 4;
    case EventType::WorkerHealth:
      return e.reason == "unhealthy" ? 4 : 5;
    case EventType::RestartScheduled:
    case EventType::StrategyApplied:
    case EventType::WorkerNotRestarted:
    case EventType::UnitRemoved:
      return 5;
    default:
      return 6;
  }
}

std::string EventLog::text(const core::Event& e) {
  std::string who = !e.worker.empty() ? e.worker : !e.supervisor.empty() ? e.supervisor : "vigil";
  return fmt::format("{}: {}", who, e.message);
}

void EventLog::setLevel(const std::string& level) {
  if (level == "trace" || level == "debug") {
    max_priority_ = 7;
  } else if (level == "warn") {
    max_priority_ = 4;
  } else if (level == "error") {
    max_priority_ = 3;
  } else {
    max_priority_ = 6;
  }
}

void EventLog::publish(const core::Event& e, const status::EventView&) {
  record(e);
}

bool EventLog::alwaysLogged(core::EventType type) {
  return type == EventType::OperatorCommand || type == EventType::ConfigApplied ||
         type == EventType::ConfigRejected;
}

void EventLog::record(const core::Event& e) {
  if (priority(e) > max_priority_ && !alwaysLogged(e.type)) return;
  const std::string message = text(e);
  if (to_journal_) {
    sd_journal_send("MESSAGE=%s", message.c_str(), "PRIORITY=%d", priority(e), "MESSAGE_ID=%s",
                    messageId(e.type), "VIGIL_EVENT=%s", core::toString(e.type), "VIGIL_TREE=%s",
                    e.tree.c_str(), "VIGIL_SUPERVISOR=%s", e.supervisor.c_str(), "VIGIL_WORKER=%s",
                    e.worker.c_str(), "VIGIL_UNIT=%s", e.unit.c_str(), "VIGIL_REASON=%s",
                    e.reason.c_str(), "VIGIL_EXIT_STATUS=%d", e.exit_status,
                    "VIGIL_DELAY_USEC=%lld", static_cast<long long>(e.delay.count()),
                    "VIGIL_RESTARTS=%u", e.restarts, "VIGIL_SETTING=%s", e.setting.c_str(),
                    "VIGIL_CALLER=%s", e.caller.c_str(), nullptr);
  }
  if (to_stderr_) {
    std::fprintf(stderr, "<%d>%s [%s%s%s]\n", priority(e), message.c_str(), core::toString(e.type),
                 e.reason.empty() ? "" : " ", e.reason.c_str());
  }
}

}  // namespace vigil::daemon

namespace vigil::daemon {

void EventLog::configWarnings(const std::string& file, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) {
    if (to_journal_) {
      sd_journal_send("MESSAGE=configuration warning: %s", w.c_str(), "PRIORITY=4", "MESSAGE_ID=%s",
                      kConfigWarningId, "VIGIL_EVENT=config-warning", "VIGIL_CONFIG=%s",
                      file.c_str(), nullptr);
    }
    if (to_stderr_) std::fprintf(stderr, "<4>configuration warning: %s\n", w.c_str());
  }
}

}  // namespace vigil::daemon
