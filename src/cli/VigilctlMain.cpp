// vigilctl: inspect vigild. This version reads the state document vigild writes
// (/run/vigil/state.json); the D-Bus API replaces it in a later release. See vigilctl(1).

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "config/ConfigCheck.h"
#include "util/BuildInfo.h"

namespace {

std::string human(std::int64_t usec) {
  const std::int64_t s = usec / 1000000;
  if (s < 120) return fmt::format("{}s", s);
  if (s < 7200) return fmt::format("{}min", s / 60);
  return fmt::format("{}h", s / 3600);
}

std::string bytes(std::uint64_t n) {
  if (n < 1024) return fmt::format("{}B", n);
  if (n < (1u << 20)) return fmt::format("{:.1f}K", n / 1024.0);
  if (n < (1u << 30)) return fmt::format("{:.1f}M", n / 1048576.0);
  return fmt::format("{:.1f}G", n / 1073741824.0);
}

int status(const std::string& path, bool as_json) {
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "vigilctl: cannot read %s: is vigild running?\n", path.c_str());
    return 3;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(buf.str(), nullptr, false);
  if (doc.is_discarded()) {
    std::fprintf(stderr, "vigilctl: %s is not valid JSON\n", path.c_str());
    return 3;
  }
  if (as_json) {
    std::printf("%s\n", doc.dump(2).c_str());
    return 0;
  }
  std::printf("vigild %s (pid %ld), config %s, tier %s, %s\n", doc.value("version", "?").c_str(),
              doc.value("pid", 0L), doc.value("config", "?").c_str(),
              doc.value("tier", "?").c_str(), doc.value("ready", false) ? "ready" : "starting");
  if (doc.value("config_result", "") == "rejected") {
    std::printf("last reload REJECTED (previous configuration still in force):\n%s\n",
                doc.value("config_error", "").c_str());
  }
  std::printf("\n%-24s %-11s %-12s %s\n", "SUPERVISOR", "STATE", "STRATEGY", "RESTARTS/WINDOW");
  for (const auto& s : doc["supervisors"]) {
    std::printf("%-24s %-11s %-12s %d/%d in %s%s\n", s.value("supervisor", "").c_str(),
                s.value("state", "").c_str(), s.value("strategy", "").c_str(),
                s.value("restarts_in_window", 0), s.value("max_restarts", 0),
                human(s.value("period_usec", 0L)).c_str(),
                s.value("failure", "").empty() ? "" : ("  " + s.value("failure", "")).c_str());
  }
  std::printf("\n%-28s %-16s %-8s %-8s %-9s %s\n", "WORKER", "STATE", "PID", "RESTARTS", "MEMORY",
              "LAST EXIT");
  for (const auto& w : doc["workers"]) {
    std::string state = w.value("state", "");
    if (w.contains("up_usec")) state += " " + human(w["up_usec"].get<std::int64_t>());
    if (w.contains("restart_in_usec"))
      state += " " + human(w["restart_in_usec"].get<std::int64_t>());
    const std::string mem = w.contains("memory_current_bytes")
                                ? bytes(w["memory_current_bytes"].get<std::uint64_t>())
                                : "-";
    const unsigned pid = w.value("main_pid", 0u);
    std::printf("%-28s %-16s %-8s %-8u %-9s %s\n", w.value("worker", "").c_str(), state.c_str(),
                pid ? std::to_string(pid).c_str() : "-", w.value("restarts", 0u), mem.c_str(),
                w.value("last_exit", "").c_str());
  }
  return 0;
}

// Exit codes (vigilctl(1), EXIT STATUS).
constexpr int kExitFailure = 1;   // the operation failed (e.g. the configuration is invalid)
constexpr int kExitUsage = 2;     // bad command line
constexpr int kExitNoDaemon = 3;  // vigild is not running or cannot be reached

constexpr const char* kCommands = "status, events, check-config, version";

int usage(const std::string& message) {
  std::fprintf(stderr, "vigilctl: %s\nTry 'vigilctl --help'.\n", message.c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigilctl: inspect the vigil supervision agent"};
  app.set_version_flag("--version", fmt::format("vigilctl {}", vigil::util::kVersion),
                       "print the version and exit");
  app.require_subcommand(0, 1);
  std::string state_file = "/run/vigil/state.json";
  app.add_option("--state-file", state_file, "state document written by vigild")
      ->capture_default_str();
  bool as_json = false;
  auto* st = app.add_subcommand("status", "show supervisors and workers");
  st->add_flag("--json", as_json, "print the raw state document");
  auto* ev = app.add_subcommand("events", "show recent supervision events");
  std::string check_file;
  std::vector<std::string> tier_dirs;
  bool no_host_checks = false;
  auto* cc = app.add_subcommand("check-config", "validate a configuration file");
  cc->add_option("file", check_file, "file to check (default /etc/vigil/vigil.yaml)");
  cc->add_option("--tier-dir", tier_dirs,
                 fmt::format("directory holding tier_N.yaml (repeatable); default: the 'tiers' "
                             "directory next to FILE, then {}",
                             vigil::util::kTierDir));
  cc->add_flag("--no-host-checks", no_host_checks,
               "do not look up users, groups, directories and executables on this host");
  app.add_subcommand("version", "print the version");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    // The first word that is not an option names the command.
    if (app.get_subcommands().empty()) {
      for (int i = 1; i < argc; ++i) {
        if (argv[i][0] != '-') {
          return usage(fmt::format("unknown command '{}'; commands: {}", argv[i], kCommands));
        }
      }
    }
    return usage(e.what());
  } catch (const CLI::ParseError& e) {
    return usage(e.what());
  }
  if (app.get_subcommands().empty()) {
    return usage(fmt::format("a command is required; commands: {}", kCommands));
  }
  if (app.got_subcommand("version")) {
    std::printf("vigilctl %s\n", vigil::util::kVersion);
    return 0;
  }
  if (st->parsed()) {
    try {
      return status(state_file, as_json);
    } catch (const nlohmann::json::exception& e) {
      std::fprintf(stderr, "vigilctl: %s does not have the expected shape: %s\n",
                   state_file.c_str(), e.what());
      return kExitNoDaemon;
    }
  }
  if (ev->parsed()) {
    std::ifstream in(state_file);
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
    if (!in || doc.is_discarded() || !doc.contains("events") || !doc["events"].is_array()) {
      std::fprintf(stderr, "vigilctl: cannot read %s: is vigild running?\n", state_file.c_str());
      return kExitNoDaemon;
    }
    for (const auto& e : doc["events"]) {
      if (!e.is_object()) continue;
      std::printf("%-22s %s\n", e.value("event", "").c_str(), e.value("message", "").c_str());
    }
    return 0;
  }
  if (cc->parsed()) {
    vigil::config::CheckOptions co;
    co.file = check_file.empty() ? std::filesystem::path("/etc/vigil/vigil.yaml")
                                 : std::filesystem::path(check_file);
    co.tier_dirs.assign(tier_dirs.begin(), tier_dirs.end());
    if (const char* tier = std::getenv("VIGIL_TIER"); tier && *tier) co.tier_override = tier;
    co.host_checks = !no_host_checks;
    return vigil::config::checkConfig(co, stdout, stderr) == 0 ? 0 : kExitFailure;
  }
  return 0;
}
