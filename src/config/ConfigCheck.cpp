#include "config/ConfigCheck.h"

#include <functional>

#include <fmt/format.h>

#include "config/ConfigLoader.h"

namespace vigil::config {

int checkConfig(const CheckOptions& options, std::FILE* out, std::FILE* err) {
  LoadOptions lo;
  lo.tier_dirs = options.tier_dirs.empty() ? defaultTierDirs(options.file) : options.tier_dirs;
  lo.tier_override = options.tier_override;
  lo.host_checks = options.host_checks ? HostChecks::Error : HostChecks::Off;
  ConfigErrors warnings;
  const auto cfg = loadConfig(options.file, lo, &warnings);
  const std::string file = options.file.string();
  if (!cfg) std::fputs(formatErrors(cfg.error()).c_str(), err);
  std::fputs(formatWarnings(warnings).c_str(), err);
  if (!options.host_checks) {
    std::fprintf(err,
                 "%s: note: host checks skipped (--no-host-checks): users, groups, working "
                 "directories and executables were not looked up on this host\n",
                 file.c_str());
  }
  if (!cfg) {
    std::fprintf(err, "%s: %zu error(s); configuration rejected\n", file.c_str(),
                 cfg.error().size());
    return 1;
  }
  std::size_t workers = 0;
  std::function<void(const core::SupervisorSpec&)> count = [&](const core::SupervisorSpec& s) {
    for (const auto& c : s.children) {
      if (c.worker) workers += c.worker->instances;
      if (c.supervisor) count(*c.supervisor);
    }
  };
  for (const auto& t : cfg->trees) count(t);
  std::fprintf(out, "%s: ok (tier %s, %zu tree(s), %zu worker unit(s)%s)\n", file.c_str(),
               cfg->tier.c_str(), cfg->trees.size(), workers,
               warnings.empty() ? "" : fmt::format(", {} warning(s)", warnings.size()).c_str());
  return 0;
}

}  // namespace vigil::config
