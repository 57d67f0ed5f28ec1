#pragma once
// One problem found while loading the configuration, pointing at where the offending
// value came from: a place in a file, or an environment variable.

#include <cstddef>
#include <string>
#include <vector>

#include "core/Spec.h"

namespace vigil::config {

struct ConfigError {
  // The file and 1-based position; line/column 0 = the file as a whole (it cannot be read,
  // is too large, ...). Empty file: the value came from `environment` instead.
  core::SourceLocation where;
  std::string key;          // full key path, e.g. "trees.web.children[0].limits.memory_max"
  std::string message;      // what was expected and what was found
  std::string environment;  // the environment variable the value came from, e.g. VIGIL_TIER

  // "FILE:LINE:COL: KEY: MESSAGE", leaving out the parts that are unknown (no line means
  // no column either), e.g.
  // "vigil.yaml:7:22: trees.web.children[0].limits.memory_max: expected a size like 512M,
  // found 'lots'". A value from the environment reads
  // "environment variable VIGIL_TIER: expected one of tier_1, tier_2, tier_3, found 'x'".
  std::string format() const;
  // The same with "warning: " after the source: "FILE:LINE:COL: warning: KEY: MESSAGE".
  std::string formatWarning() const;
};

using ConfigErrors = std::vector<ConfigError>;

// At most this many errors are printed; the rest are counted in one last line.
inline constexpr std::size_t kMaxShownErrors = 100;

// Every error formatted, one per line (each terminated by '\n'), at most `max_shown` of
// them followed by "N more error(s) not shown".
std::string formatErrors(const ConfigErrors& errors, std::size_t max_shown = kMaxShownErrors);
// Every warning formatted with formatWarning(), one per line.
std::string formatWarnings(const ConfigErrors& warnings);

}  // namespace vigil::config
