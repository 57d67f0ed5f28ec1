#pragma once
// Classification of how a worker's unit ended, from the properties systemd reports
// (Result, ExecMainCode, ExecMainStatus). Pure; used for restart decisions and events.

#include <string>

namespace vigil::core {

// What systemd said about the end of a unit's main process.
struct UnitOutcome {
  std::string result;        // Service Result: success, exit-code, signal, core-dump,
                             // oom-kill, watchdog, timeout, resources, start-limit-hit, ...
  int exec_main_code = 0;    // CLD_EXITED=1, CLD_KILLED=2, CLD_DUMPED=3; 0 = never ran
  int exec_main_status = 0;  // exit status, or signal number when killed
};

enum class ExitKind {
  Clean,        // exited 0
  ExitCode,     // exited non-zero
  Signal,       // killed by a signal (not OOM, not watchdog)
  OomKill,      // the kernel OOM killer hit the unit's cgroup
  Watchdog,     // WatchdogSec expired
  ExecFailure,  // systemd could not execute the command (status 200..243)
  Timeout,      // a start or stop timed out
  Resources,    // systemd could not set up the unit
  Unknown,
};

struct ExitInfo {
  ExitKind kind = ExitKind::Unknown;
  int status = 0;           // exit status or signal number
  std::string reason;       // short tag for journal fields: "exit-code", "oom-kill", ...
  std::string description;  // one sentence for humans: "exited with status 3"

  bool abnormal() const { return kind != ExitKind::Clean; }
};

const char* toString(ExitKind kind);

// Classifies an outcome. An exit status of 200..243 with code CLD_EXITED is a systemd
// exec-phase error and is named (e.g. 203 -> "EXEC").
ExitInfo classifyExit(const UnitOutcome& outcome);

// systemd's name for an exec-phase exit status (200 -> "CHDIR", 203 -> "EXEC", ...),
// or "" when `status` is not one of them.
const char* execStatusName(int status);

}  // namespace vigil::core
