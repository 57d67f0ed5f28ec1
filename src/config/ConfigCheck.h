#pragma once
// `vigild --check-config` and `vigilctl check-config`: one implementation, so that both
// tools find the tiers the same way and say the same thing about a file.

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace vigil::config {

struct CheckOptions {
  std::filesystem::path file;
  std::vector<std::filesystem::path> tier_dirs;  // empty: defaultTierDirs(file)
  std::optional<std::string> tier_override;      // $VIGIL_TIER, read by the caller
  // Check the host too (users, groups, working directories, executables, fs.nr_open).
  // Off for a file meant for another host (--no-host-checks).
  bool host_checks = true;
};

// Loads `options.file` and prints to `err` every error (at most kMaxShownErrors, then how
// many more), every warning, a note when host checks were skipped, and a last line with
// the true number of errors ("FILE: 3 error(s); configuration rejected"); on success it
// prints "FILE: ok (tier T, N tree(s), M worker unit(s))" to `out`.
// Returns 0 when the file is valid (warnings allowed), 1 when it is not.
int checkConfig(const CheckOptions& options, std::FILE* out, std::FILE* err);

}  // namespace vigil::config
