#include "core/ExitInfo.h"

#include <string.h>

#include <fmt/format.h>

namespace vigil::core {

namespace {
constexpr int kCldExited = 1;
constexpr int kCldKilled = 2;
constexpr int kCldDumped = 3;

std::string signalName(int sig) {
  // sigabbrev_np (glibc >= 2.32) gives "TERM"; fall back to the number.
  const char* abbrev = sigabbrev_np(sig);
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", sig);
}
}  // namespace

const char* toString(ExitKind kind) {
  switch (kind) {
    case ExitKind::Clean:
      return "clean";
    case ExitKind::ExitCode:
      return "exit-code";
    case ExitKind::Signal:
      return "signal";
    case ExitKind::OomKill:
      return "oom-kill";
    case ExitKind::Watchdog:
      return "watchdog";
    case ExitKind::ExecFailure:
      return "exec-failure";
    case ExitKind::Timeout:
      return "timeout";
    case ExitKind::Resources:
      return "resources";
    case ExitKind::Stopped:
      return "stopped-externally";
    case ExitKind::RuntimeLimit:
      return "runtime-limit";
    case ExitKind::Unhealthy:
      return "unhealthy";
    case ExitKind::Unknown:
      return "unknown";
  }
  return "unknown";
}

ExitKind exitKindFromString(const std::string& text) {
  for (int k = 0; k <= static_cast<int>(ExitKind::Unknown); ++k) {
    if (text == toString(static_cast<ExitKind>(k))) return static_cast<ExitKind>(k);
  }
  return ExitKind::Unknown;
}

const char* execStatusName(int status) {
  // systemd's EXIT_* codes from src/basic/exit-status.h (252), which systemd itself
  // prints as "status=203/EXEC".
  switch (status) {
    case 200:
      return "CHDIR";
    case 201:
      return "NICE";
    case 202:
      return "FDS";
    case 203:
      return "EXEC";
    case 204:
      return "MEMORY";
    case 205:
      return "LIMITS";
    case 206:
      return "OOM_ADJUST";
    case 207:
      return "SIGNAL_MASK";
    case 208:
      return "STDIN";
    case 209:
      return "STDOUT";
    case 210:
      return "CHROOT";
    case 211:
      return "IOPRIO";
    case 212:
      return "TIMERSLACK";
    case 213:
      return "SECUREBITS";
    case 214:
      return "SETSCHEDULER";
    case 215:
      return "CPUAFFINITY";
    case 216:
      return "GROUP";
    case 217:
      return "USER";
    case 218:
      return "CAPABILITIES";
    case 219:
      return "CGROUP";
    case 220:
      return "SETSID";
    case 221:
      return "CONFIRM";
    case 222:
      return "STDERR";
    case 224:
      return "PAM";
    case 225:
      return "NETWORK";
    case 226:
      return "NAMESPACE";
    case 227:
      return "NO_NEW_PRIVILEGES";
    case 228:
      return "SECCOMP";
    case 229:
      return "SELINUX_CONTEXT";
    case 230:
      return "PERSONALITY";
    case 231:
      return "APPARMOR_PROFILE";
    case 232:
      return "ADDRESS_FAMILIES";
    case 233:
      return "RUNTIME_DIRECTORY";
    case 235:
      return "CHOWN";
    case 236:
      return "SMACK_PROCESS_LABEL";
    case 237:
      return "KEYRING";
    case 238:
      return "STATE_DIRECTORY";
    case 239:
      return "CACHE_DIRECTORY";
    case 240:
      return "LOGS_DIRECTORY";
    case 241:
      return "CONFIGURATION_DIRECTORY";
    case 242:
      return "NUMA_POLICY";
    case 243:
      return "CREDENTIALS";
    default:
      return "";
  }
}

const char* execStatusSetting(int status) {
  switch (status) {
    case 200:
      return "working_directory";
    case 203:
      return "command";
    case 205:
      return "limits";
    case 216:
      return "group";
    case 217:
      return "user";
    default:
      return "";
  }
}

ExitInfo classifyExit(const UnitOutcome& o) {
  ExitInfo info;
  info.status = o.exec_main_status;
  info.code = o.exec_main_code;
  // systemd's Result is authoritative for causes the exit status cannot show.
  if (o.stop_job) {
    info.kind = ExitKind::Stopped;
    info.description = "stopped from outside vigil (a stop job, e.g. systemctl stop)";
  } else if (o.result == "oom-kill") {
    info.kind = ExitKind::OomKill;
    info.description = "killed by the OOM killer (memory limit reached)";
  } else if (o.result == "watchdog") {
    info.kind = ExitKind::Watchdog;
    info.description = "watchdog timeout: no WATCHDOG=1 ping in time, killed by systemd";
  } else if (o.result == "timeout") {
    info.kind = ExitKind::Timeout;
    info.description = "timed out (start or stop took too long)";
  } else if (o.result == "resources" || o.result == "start-limit-hit" || o.result == "protocol") {
    info.kind = ExitKind::Resources;
    info.description = fmt::format("systemd could not run the unit (result '{}')", o.result);
  } else if (o.exec_main_code == kCldExited) {
    const char* exec_name = execStatusName(o.exec_main_status);
    if (*exec_name != '\0') {
      info.kind = ExitKind::ExecFailure;
      info.setting = execStatusSetting(o.exec_main_status);
      info.description = fmt::format(
          "systemd could not start the process: step {} failed "
          "(status {}/{})",
          exec_name, o.exec_main_status, exec_name);
    } else if (o.exec_main_status == 0) {
      info.kind = ExitKind::Clean;
      info.description = "exited cleanly (status 0)";
    } else {
      info.kind = ExitKind::ExitCode;
      info.description = fmt::format("exited with status {}", o.exec_main_status);
    }
  } else if (o.exec_main_code == kCldKilled || o.exec_main_code == kCldDumped) {
    info.kind = ExitKind::Signal;
    info.description = fmt::format("killed by {}{}", signalName(o.exec_main_status),
                                   o.exec_main_code == kCldDumped ? " (core dumped)" : "");
  } else if (o.result == "success") {
    info.kind = ExitKind::Clean;
    info.description = "stopped cleanly";
  } else if (o.result == "exit-code") {
    info.kind = ExitKind::ExitCode;
    info.description = "failed (exit code)";
  } else if (o.result == "signal" || o.result == "core-dump") {
    info.kind = ExitKind::Signal;
    info.description = "killed by a signal";
  } else {
    info.kind = ExitKind::Unknown;
    info.description = fmt::format("ended (result '{}')", o.result.empty() ? "?" : o.result);
  }
  info.reason = toString(info.kind);
  return info;
}

}  // namespace vigil::core
