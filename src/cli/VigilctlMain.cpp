// vigilctl: inspect vigild. This version reads the state document vigild writes
// (/run/vigil/state.json); the D-Bus API replaces it in a later release. See vigilctl(1).

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "config/ConfigLoader.h"
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"vigilctl: inspect the vigil supervision agent"};
  app.require_subcommand(1);
  std::string state_file = "/run/vigil/state.json";
  app.add_option("--state-file", state_file, "state document written by vigild")
      ->capture_default_str();
  bool as_json = false;
  auto* st = app.add_subcommand("status", "show supervisors and workers");
  st->add_flag("--json", as_json, "print the raw state document");
  auto* ev = app.add_subcommand("events", "show recent supervision events");
  std::string check_file;
  auto* cc = app.add_subcommand("check-config", "validate a configuration file");
  cc->add_option("file", check_file, "file to check")->required();
  app.add_subcommand("version", "print the version");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (app.got_subcommand("version")) {
    std::printf("vigilctl %s\n", vigil::util::kVersion);
    return 0;
  }
  if (st->parsed()) return status(state_file, as_json);
  if (ev->parsed()) {
    std::ifstream in(state_file);
    nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
    if (!in || doc.is_discarded()) {
      std::fprintf(stderr, "vigilctl: cannot read %s: is vigild running?\n", state_file.c_str());
      return 3;
    }
    for (const auto& e : doc["events"]) {
      std::printf("%-22s %s\n", e.value("event", "").c_str(), e.value("message", "").c_str());
    }
    return 0;
  }
  if (cc->parsed()) {
    auto lo = vigil::config::LoadOptions::system();
    if (const char* tier = std::getenv("VIGIL_TIER"); tier && *tier) lo.tier_override = tier;
    auto cfg = vigil::config::loadConfig(check_file, lo);
    if (!cfg) {
      for (const auto& e : cfg.error()) std::fprintf(stderr, "%s\n", e.format().c_str());
      return 1;
    }
    std::printf("%s: ok\n", check_file.c_str());
    return 0;
  }
  return 0;
}
