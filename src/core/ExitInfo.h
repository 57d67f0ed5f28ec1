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
  // A stop job ended the unit, not its process: the adapter saw the unit enter
  // deactivating (stop-sigterm) with Result=success while its main process was still
  // alive, or saw its start job canceled. Measured on systemd 252 (VM): a main process
  // that exits on its own reaches stop-sigterm only after MainPID=0 and ExecMainCode are
  // set; RuntimeMaxSec and the watchdog set Result=timeout/watchdog before deactivating.
  // The engine knows its own stop jobs (the child is Stopping), so for a running child
  // this is a stop from outside vigil (`systemctl stop`, `systemctl restart`).
  bool stop_job = false;
};

enum class ExitKind {
  Clean,         // exited 0
  ExitCode,      // exited non-zero
  Signal,        // killed by a signal (not OOM, not watchdog)
  OomKill,       // the kernel OOM killer hit the unit's cgroup
  Watchdog,      // WatchdogSec expired
  ExecFailure,   // systemd could not execute the command (status 200..243)
  Timeout,       // a start or stop timed out
  Resources,     // systemd could not set up the unit
  Stopped,       // a stop job ended it (UnitOutcome::stop_job)
  RuntimeLimit,  // stopped by systemd after limits.runtime_max (RuntimeMaxSec)
  Unhealthy,     // stopped by vigild: its health checks failed (HealthTracker)
  Unknown,
};

struct ExitInfo {
  ExitKind kind = ExitKind::Unknown;
  int status = 0;           // exit status or signal number
  int code = 0;             // ExecMainCode: CLD_EXITED=1, CLD_KILLED=2, CLD_DUMPED=3; 0 = none
  std::string reason;       // short tag for journal fields: "exit-code", "oom-kill", ...
  std::string description;  // one sentence for humans: "exited with status 3"
  // The configuration key an exec-phase failure points at ("user", "working_directory",
  // "command", ...; see execStatusSetting), or "".
  std::string setting;

  bool abnormal() const { return kind != ExitKind::Clean; }
};

const char* toString(ExitKind kind);
// The kind toString() names; Unknown for any other text.
ExitKind exitKindFromString(const std::string& text);

// Classifies an outcome. An exit status of 200..243 with code CLD_EXITED is a systemd
// exec-phase error and is named (e.g. 203 -> "EXEC").
ExitInfo classifyExit(const UnitOutcome& outcome);

// systemd's name for an exec-phase exit status (200 -> "CHDIR", 203 -> "EXEC", ...),
// or "" when `status` is not one of them.
const char* execStatusName(int status);

// The vigil.yaml key whose value systemd failed to apply when a start ends with the
// exec-phase `status`: 200/CHDIR -> "working_directory", 203/EXEC -> "command",
// 205/LIMITS -> "limits", 216/GROUP -> "group", 217/USER -> "user"; "" for the others
// (which vigil does not configure). Source: the EXIT_* codes in systemd 252's
// src/basic/exit-status.h and the step each one reports (systemd.exec(5), "PROCESS EXIT CODES").
const char* execStatusSetting(int status);

}  // namespace vigil::core
