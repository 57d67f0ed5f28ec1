// vigild: the vigil supervision agent. See vigild(8).

#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <CLI/CLI.hpp>

#include "api/ApiServer.h"
#include "config/ConfigCheck.h"
#include "config/ConfigLoader.h"
#include "daemon/Daemon.h"
#include "doctor/Doctor.h"
#include "doctor/HostFacts.h"
#include "systemd/SdBusSystemdClient.h"
#include "util/BuildInfo.h"

namespace {

using vigil::daemon::Daemon;
using vigil::daemon::DaemonOptions;

// Exit codes (vigild(8), EXIT STATUS).
constexpr int kExitFailure = 1;  // invalid configuration, or vigild could not run
constexpr int kExitUsage = 2;    // bad command line

// CLI11 reports --help and --version as "errors" with exit code 0; everything else is a
// usage error: one line, a hint, exit 2.
int parseFailed(const CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == 0) return app.exit(e);
  std::fprintf(stderr, "vigild: %s\nTry 'vigild --help'.\n", e.what());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  // A fixed mmap threshold (mallopt(3): setting it turns glibc's dynamic one off): blocks of
  // 128 KiB and more (the state file's text, a whole fleet's D-Bus answer) are mapped and
  // unmapped on free, instead of raising the threshold and growing the heap, which then
  // stays in vigild's RSS (bench/RESULTS.md, steady state).
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  CLI::App app{"vigild: supervision trees of workers as transient systemd units"};
  app.set_version_flag("--version", fmt::format("vigild {}", vigil::util::kVersion),
                       "print the version and exit");
  DaemonOptions opts;
  std::string config = opts.config_file.string();
  std::vector<std::string> tier_dirs;
  std::string cgroup_root = opts.cgroup_root.string();
  std::string state_file = opts.state_file.string();
  // systemd sets $STATE_DIRECTORY from StateDirectory= (systemd.exec(5)).
  const char* state_env = std::getenv("STATE_DIRECTORY");
  std::string state_dir =
      state_env && *state_env && !std::strchr(state_env, ':') ? state_env : "/var/lib/vigil";
  bool foreground = false;
  bool no_host_checks = false;
  std::optional<std::string> check;
  app.add_option("-c,--config", config, "configuration file")->capture_default_str();
  app.add_option("--tier-dir", tier_dirs,
                 fmt::format("directory holding tier_N.yaml (repeatable); default: the 'tiers' "
                             "directory next to the configuration file, then {}/tiers, then {}",
                             vigil::util::kSysconfDir, vigil::util::kTierDir))
      // One directory per --tier-dir, so that `--tier-dir DIR FILE` does not take FILE.
      ->allow_extra_args(false);
  app.add_option("--cgroup-root", cgroup_root, "cgroup v2 mount to read metrics from")
      ->capture_default_str();
  app.add_option("--state-file", state_file, "where to write the state document ('' = none)")
      ->capture_default_str();
  app.add_option("--state-dir", state_dir,
                 "where the supervision state and the last good configuration are kept "
                 "(default: $STATE_DIRECTORY, else /var/lib/vigil; '' = nowhere)")
      ->capture_default_str();
  app.add_option("--check-config", check,
                 "validate FILE (default: --config), including this host's users, directories "
                 "and executables; exit 0 if valid, 1 if not")
      ->expected(0, 1);
  app.add_flag("--no-host-checks", no_host_checks,
               "with --check-config: do not look up users, groups, directories and executables "
               "on this host (for a file meant for another host)");
  bool doctor = false;
  bool json = false;
  app.add_flag("--doctor", doctor,
               "check this host and the running vigild (systemd, cgroup v2, controllers, PSI, "
               "D-Bus, clock, vigild, config, trees, watchdog): one line per check with its "
               "fix; exit 0 if none failed, 1 if one did");
  app.add_flag("--json", json, "with --doctor: print the checks as JSON");
  app.add_flag("--stderr", foreground, "also print events to stderr");
  // So that `vigild --check-config --no-host-checks FILE` works as well.
  std::string check_file;
  app.add_option("file", check_file, "with --check-config: the file to check");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return parseFailed(app, e);
  }
  if (!check_file.empty() && !app.count("--check-config")) {
    std::fprintf(stderr,
                 "vigild: a FILE argument only applies to --check-config\n"
                 "Try 'vigild --help'.\n");
    return kExitUsage;
  }
  if (!check_file.empty() && check && !check->empty()) {
    std::fprintf(stderr, "vigild: --check-config takes one file\nTry 'vigild --help'.\n");
    return kExitUsage;
  }
  if (!check_file.empty()) check = check_file;
  if (no_host_checks && !app.count("--check-config")) {
    std::fprintf(stderr,
                 "vigild: --no-host-checks only applies to --check-config\n"
                 "Try 'vigild --help'.\n");
    return kExitUsage;
  }
  opts.config_file = config;
  opts.tier_dirs.assign(tier_dirs.begin(), tier_dirs.end());
  if (const char* tier = std::getenv("VIGIL_TIER"); tier && *tier) opts.tier_override = tier;
  opts.cgroup_root = cgroup_root;
  opts.state_file = state_file;
  opts.state_dir = state_dir;
  if (json && !doctor) {
    std::fprintf(stderr, "vigild: --json only applies to --doctor\nTry 'vigild --help'.\n");
    return kExitUsage;
  }
  if (doctor) {
    if (app.count("--check-config")) {
      std::fprintf(stderr,
                   "vigild: --doctor and --check-config do not go together (the doctor checks "
                   "the configuration too)\nTry 'vigild --help'.\n");
      return kExitUsage;
    }
    vigil::doctor::GatherOptions go;
    if (app.count("--config")) go.config_file = opts.config_file;
    go.tier_dirs = opts.tier_dirs;
    go.tier_override = opts.tier_override;
    go.cgroup_root = opts.cgroup_root;
    const auto checks = vigil::doctor::evaluate(vigil::doctor::gather(go));
    if (json) {
      std::printf("%s\n", vigil::doctor::toJson(checks).dump(2).c_str());
    } else {
      const char* term = std::getenv("TERM");
      const bool color = isatty(STDOUT_FILENO) == 1 && !std::getenv("NO_COLOR") &&
                         !(term && std::strcmp(term, "dumb") == 0);
      std::fputs(vigil::doctor::formatText(checks, color).c_str(), stdout);
    }
    return vigil::doctor::passed(checks) ? 0 : kExitFailure;
  }
  if (app.count("--check-config")) {
    vigil::config::CheckOptions co;
    co.file = check && !check->empty() ? std::filesystem::path(*check) : opts.config_file;
    co.tier_dirs = opts.tier_dirs;
    co.tier_override = opts.tier_override;
    co.host_checks = !no_host_checks;
    return vigil::config::checkConfig(co, stdout, stderr);
  }
  if (opts.tier_dirs.empty()) opts.tier_dirs = vigil::config::defaultTierDirs(opts.config_file);
  // Under systemd stdout/stderr already go to the journal; events are sent there with
  // structured fields, so only print them when asked or when run by hand.
  opts.log_to_stderr = foreground || std::getenv("JOURNAL_STREAM") == nullptr;
  opts.notify = std::getenv("NOTIFY_SOCKET") != nullptr;

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &mask, nullptr) != 0) {
    std::fprintf(stderr, "vigild: cannot block signals: %s\n", std::strerror(errno));
    return kExitFailure;
  }

  sd_event* event = nullptr;
  if (int r = sd_event_default(&event); r < 0) {
    std::fprintf(stderr, "vigild: cannot create the event loop: %s\n", std::strerror(-r));
    return kExitFailure;
  }
  auto bus = vigil::systemd::Bus::system(event);
  if (!bus) {
    std::fprintf(stderr, "vigild: %s\n", bus.error().message().c_str());
    sd_event_unref(event);
    return kExitFailure;
  }
  // A lost connection (dbus-daemon restarted or dropped vigild) is re-established: the
  // workers are PID 1's and keep running meanwhile; what happened to them is read again
  // once PID 1 is back on the bus. Not back within the bound: exit, and systemd's restart
  // plus adoption take over (before the watchdog would: vigild.service WatchdogSec=30s).
  {
    vigil::systemd::Bus::KeepConnected keep;
    keep.await_name = "org.freedesktop.systemd1";
    keep.give_up_after = std::chrono::seconds(20);
    keep.on_lost = [](const std::string& why) {
      std::fprintf(stderr, "<3>vigild: %s; reconnecting (workers keep running)\n", why.c_str());
    };
    keep.on_back = [](std::chrono::microseconds outage, unsigned attempts) {
      std::fprintf(stderr,
                   "<5>vigild: back on the system bus after %.1fs (%u attempt(s)); reading "
                   "every worker's state again\n",
                   static_cast<double>(outage.count()) / 1e6, attempts);
    };
    keep.on_give_up = [event](const std::string& why) {
      std::fprintf(stderr, "<2>vigild: %s; exiting so that systemd restarts vigild\n", why.c_str());
      sd_event_exit(event, 1);
    };
    (*bus)->keepConnected(std::move(keep));
  }
  auto client = vigil::systemd::SdBusSystemdClient::create(**bus);
  if (!client) {
    std::fprintf(stderr, "vigild: %s\n", client.error().message().c_str());
    sd_event_unref(event);
    return kExitFailure;
  }
  int exit_code = 0;
  {
    Daemon daemon(opts, event, **client);
    auto on_stop = [](sd_event_source*, const signalfd_siginfo*, void* ud) -> int {
      static_cast<Daemon*>(ud)->shutdown();
      return 0;
    };
    auto on_reload = [](sd_event_source*, const signalfd_siginfo*, void* ud) -> int {
      (void)static_cast<Daemon*>(ud)->reload();
      return 0;
    };
    // Without these, SIGTERM would be ignored (blocked above) and a reload silently lost.
    for (const auto& [sig, handler] : {std::pair{SIGTERM, +on_stop}, std::pair{SIGINT, +on_stop},
                                       std::pair{SIGHUP, +on_reload}}) {
      if (int r = sd_event_add_signal(event, nullptr, sig, handler, &daemon); r < 0) {
        std::fprintf(stderr, "vigild: cannot watch signal %s: %s\n", sigabbrev_np(sig),
                     std::strerror(-r));
        client->reset();
        bus->reset();
        sd_event_unref(event);
        return kExitFailure;
      }
    }
    // The API (org.vigil.Vigil1) on the same connection; without it vigild still
    // supervises, and says why there is no API.
    auto api = vigil::api::ApiServer::create(**bus, daemon);
    if (api) {
      (*api)->requestName();
    } else {
      std::fprintf(stderr, "<3>vigild: %s; the API is unavailable\n",
                   api.error().message().c_str());
    }
    if (auto started = daemon.start(); !started) {
      std::fprintf(stderr, "%s\n", started.error().message().c_str());
      std::fprintf(stderr, "vigild: configuration %s rejected; nothing was started or stopped\n",
                   opts.config_file.c_str());
      exit_code = kExitFailure;
    } else {
      int r = sd_event_loop(event);
      exit_code = r < 0 ? kExitFailure : r;
    }
    if (api) api->reset();
  }
  client->reset();
  bus->reset();
  sd_event_unref(event);
  return exit_code;
}
