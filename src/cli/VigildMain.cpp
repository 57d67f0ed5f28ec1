// vigild: the vigil supervision agent. See vigild(8).

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>
#include <CLI/CLI.hpp>

#include "config/ConfigLoader.h"
#include "daemon/Daemon.h"
#include "systemd/SdBusSystemdClient.h"
#include "util/BuildInfo.h"

namespace {

using vigil::daemon::Daemon;
using vigil::daemon::DaemonOptions;

int checkConfig(const std::filesystem::path& file, const DaemonOptions& opts) {
  vigil::config::LoadOptions lo;
  lo.tier_dirs = opts.tier_dirs;
  lo.tier_override = opts.tier_override;
  auto cfg = vigil::config::loadConfig(file, lo);
  if (!cfg) {
    for (const auto& e : cfg.error()) std::fprintf(stderr, "%s\n", e.format().c_str());
    std::fprintf(stderr, "%s: %zu error(s); configuration rejected\n", file.c_str(),
                 cfg.error().size());
    return 1;
  }
  std::size_t workers = 0;
  std::function<void(const vigil::core::SupervisorSpec&)> count =
      [&](const vigil::core::SupervisorSpec& s) {
        for (const auto& c : s.children) {
          if (c.worker) workers += c.worker->instances;
          if (c.supervisor) count(*c.supervisor);
        }
      };
  for (const auto& t : cfg->trees) count(t);
  std::printf("%s: ok (tier %s, %zu tree(s), %zu worker unit(s))\n", file.c_str(),
              cfg->tier.c_str(), cfg->trees.size(), workers);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigild: supervision trees of workers as transient systemd units"};
  DaemonOptions opts;
  std::string config = opts.config_file.string();
  std::vector<std::string> tier_dirs;
  std::string cgroup_root = opts.cgroup_root.string();
  std::string state_file = opts.state_file.string();
  bool show_version = false;
  bool foreground = false;
  std::optional<std::string> check;
  app.add_option("-c,--config", config, "configuration file")->capture_default_str();
  app.add_option("--tier-dir", tier_dirs,
                 "directory holding tier_N.yaml (repeatable; default /etc/vigil/tiers, then "
                 "/usr/share/vigil/tiers)");
  app.add_option("--cgroup-root", cgroup_root, "cgroup v2 mount to read metrics from")
      ->capture_default_str();
  app.add_option("--state-file", state_file, "where to write the state document ('' = none)")
      ->capture_default_str();
  app.add_option("--check-config", check,
                 "validate FILE (default: --config) and exit 0 if valid, 1 if not")
      ->expected(0, 1);
  app.add_flag("--stderr", foreground, "also print events to stderr");
  app.add_flag("--version", show_version, "print the version and exit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (show_version) {
    std::printf("vigild %s\n", vigil::util::kVersion);
    return 0;
  }
  opts.config_file = config;
  opts.tier_dirs.assign(tier_dirs.begin(), tier_dirs.end());
  if (opts.tier_dirs.empty()) opts.tier_dirs = vigil::config::LoadOptions::system().tier_dirs;
  if (const char* tier = std::getenv("VIGIL_TIER"); tier && *tier) opts.tier_override = tier;
  opts.cgroup_root = cgroup_root;
  opts.state_file = state_file;
  if (app.count("--check-config")) {
    return checkConfig(check && !check->empty() ? std::filesystem::path(*check) : opts.config_file,
                       opts);
  }
  // Under systemd stdout/stderr already go to the journal; events are sent there with
  // structured fields, so only print them when asked or when run by hand.
  opts.log_to_stderr = foreground || std::getenv("JOURNAL_STREAM") == nullptr;
  opts.notify = std::getenv("NOTIFY_SOCKET") != nullptr;

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, nullptr);

  sd_event* event = nullptr;
  if (int r = sd_event_default(&event); r < 0) {
    std::fprintf(stderr, "vigild: cannot create the event loop: %s\n", strerror(-r));
    return 1;
  }
  auto client = vigil::systemd::SdBusSystemdClient::connect(event, [event](const std::string& why) {
    std::fprintf(stderr, "<2>vigild: %s; exiting so that systemd restarts vigild\n", why.c_str());
    sd_event_exit(event, 1);
  });
  if (!client) {
    std::fprintf(stderr, "vigild: %s\n", client.error().message().c_str());
    sd_event_unref(event);
    return 1;
  }
  int exit_code = 0;
  {
    Daemon daemon(opts, event, **client);
    auto on_stop = [](sd_event_source* s, const signalfd_siginfo*, void* ud) -> int {
      static_cast<Daemon*>(ud)->shutdown();
      sd_event_exit(sd_event_source_get_event(s), 0);
      return 0;
    };
    sd_event_add_signal(event, nullptr, SIGTERM, on_stop, &daemon);
    sd_event_add_signal(event, nullptr, SIGINT, on_stop, &daemon);
    sd_event_add_signal(
        event, nullptr, SIGHUP,
        [](sd_event_source*, const signalfd_siginfo*, void* ud) -> int {
          (void)static_cast<Daemon*>(ud)->reload();
          return 0;
        },
        &daemon);
    if (auto started = daemon.start(); !started) {
      std::fprintf(stderr, "%s\n", started.error().message().c_str());
      std::fprintf(stderr, "vigild: configuration %s rejected; nothing was started or stopped\n",
                   opts.config_file.c_str());
      exit_code = 1;
    } else {
      int r = sd_event_loop(event);
      exit_code = r < 0 ? 1 : r;
    }
  }
  client->reset();
  sd_event_unref(event);
  return exit_code;
}
