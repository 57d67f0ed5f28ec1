#pragma once
// One problem found while loading the configuration, pointing at the offending node.

#include <string>
#include <vector>

#include "core/Spec.h"

namespace vigil::config {

struct ConfigError {
  core::SourceLocation where;  // file may be empty (e.g. a bad VIGIL_TIER); line/column 0 = unknown
  std::string key;             // full key path, e.g. "trees.web.children[0].limits.memory_max"
  std::string message;         // what was expected and what was found

  // "FILE:LINE:COL: KEY: MESSAGE", leaving out the parts that are unknown (no line means
  // no column either), e.g.
  // "vigil.yaml:7:22: trees.web.children[0].limits.memory_max: expected a size like 512M,
  // found 'lots'".
  std::string format() const;
};

using ConfigErrors = std::vector<ConfigError>;

// Every error formatted, one per line (each line terminated by '\n').
std::string formatErrors(const ConfigErrors& errors);

}  // namespace vigil::config
