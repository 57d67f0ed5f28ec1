// vigil-example-worker: a small worker that shows (and lets tests provoke) what vigil
// supervises: readiness (READY=1), watchdog pings, clean and failing exits, memory
// growth up to an OOM kill, and ignoring SIGTERM.
//
//   vigil-example-worker [--ready-after SEC] [--exit-after SEC] [--exit-code N]
//                        [--stop-pinging-after SEC] [--grow-mb-per-sec N] [--ignore-term]
//                        [--stamp FILE] [WORD...]
//
// --stamp FILE writes CLOCK_MONOTONIC nanoseconds at startup to FILE (atomically, by
// rename): bench/ measures crash-to-restart latency with it.
// It prints a line every second; under systemd that goes to the journal.

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <systemd/sd-daemon.h>

namespace {

volatile sig_atomic_t g_term = 0;
void onTerm(int) {
  g_term = 1;
}

double argValue(int argc, char** argv, const char* name, double fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::atof(argv[i + 1]);
  }
  return fallback;
}

const char* argText(int argc, char** argv, const char* name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return nullptr;
}

bool argFlag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return true;
  }
  return false;
}

}  // namespace

constexpr const char* kUsage =
    "usage: vigil-example-worker [--ready-after SEC] [--exit-after SEC] [--exit-code N]\n"
    "                            [--stop-pinging-after SEC] [--grow-mb-per-sec N]\n"
    "                            [--ignore-term] [--stamp FILE] [WORD...]\n"
    "A worker for trying vigil: sends READY=1 (after --ready-after), pings the watchdog\n"
    "(until --stop-pinging-after), prints a line per second, exits with --exit-code after\n"
    "--exit-after, grows its memory by --grow-mb-per-sec, ignores SIGTERM with\n"
    "--ignore-term, and writes CLOCK_MONOTONIC nanoseconds at start to --stamp FILE.\n";

int main(int argc, char** argv) {
  static const char* const kKnown[] = {"--ready-after",        "--exit-after",      "--exit-code",
                                       "--stop-pinging-after", "--grow-mb-per-sec", "--stamp"};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    // Other words are accepted and ignored: tests pass odd argv through to check that it
    // arrives verbatim (/proc/PID/cmdline).
    if (a == "--ignore-term" || !a.starts_with("-")) continue;
    const bool takes_value =
        std::any_of(std::begin(kKnown), std::end(kKnown), [&](const char* k) { return a == k; });
    if (!takes_value || i + 1 >= argc) {
      std::fprintf(stderr, "vigil-example-worker: %s: %s\n%s", a.c_str(),
                   takes_value ? "needs a value" : "unknown argument", kUsage);
      return 2;
    }
    ++i;
  }
  if (const char* stamp = argText(argc, argv, "--stamp")) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    const std::string tmp = std::string(stamp) + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "%lld\n", static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec);
      std::fclose(f);
      std::rename(tmp.c_str(), stamp);
    }
  }
  const double ready_after = argValue(argc, argv, "--ready-after", 0);
  const double exit_after = argValue(argc, argv, "--exit-after", -1);
  const int exit_code = static_cast<int>(argValue(argc, argv, "--exit-code", 0));
  const double stop_pinging_after = argValue(argc, argv, "--stop-pinging-after", -1);
  const double grow_mb = argValue(argc, argv, "--grow-mb-per-sec", 0);
  const bool ignore_term = argFlag(argc, argv, "--ignore-term");

  struct sigaction sa {};
  sa.sa_handler = ignore_term ? SIG_IGN : onTerm;
  sigaction(SIGTERM, &sa, nullptr);
  setvbuf(stdout, nullptr, _IOLBF, 0);

  std::uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  std::vector<std::string> hog;  // pages written to, so they really count as used memory
  const long tick_ms = watchdog ? std::max<long>(50, static_cast<long>(watchdog_usec / 4000)) : 250;
  bool ready = false;
  double elapsed = 0;
  double next_report = 0;
  std::printf("worker %d starting (ready after %.1fs%s)\n", getpid(), ready_after,
              watchdog ? ", watchdog on" : "");
  while (!g_term) {
    if (!ready && elapsed >= ready_after) {
      sd_notify(0, "READY=1\nSTATUS=working");
      ready = true;
      std::printf("ready\n");
    }
    if (watchdog && (stop_pinging_after < 0 || elapsed < stop_pinging_after)) {
      sd_notify(0, "WATCHDOG=1");
    }
    if (exit_after >= 0 && elapsed >= exit_after) {
      std::printf("exiting with status %d\n", exit_code);
      return exit_code;
    }
    if (grow_mb > 0) {
      const auto bytes = static_cast<std::size_t>(grow_mb * 1024 * 1024 * tick_ms / 1000.0);
      hog.emplace_back(bytes, 'x');
    }
    if (elapsed >= next_report) {
      std::printf("tick %.0fs\n", elapsed);
      next_report += 1;
    }
    usleep(static_cast<useconds_t>(tick_ms * 1000));
    elapsed += tick_ms / 1000.0;
  }
  std::printf("SIGTERM received, exiting cleanly\n");
  return 0;
}
