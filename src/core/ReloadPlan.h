#pragma once
// What a reload would do, line by line, for `vigilctl reload --dry-run` and for the answer
// of a real reload. Pure: computed from the configuration in force and the new one with
// the same rules the engine applies (Engine::reload): a worker instance whose unit spec
// (fingerprint, core/UnitSpec.h) changed is replaced, one that is new is started, one that
// is gone is stopped; a supervisor whose budget changed gets its slice updated; a failed
// tree is started afresh; everything else is left alone.

#include <set>
#include <string>
#include <vector>

#include "core/Spec.h"

namespace vigil::core {

struct PlanLine {
  enum class Kind {
    Start,    // a new worker instance, or a new supervisor
    Stop,     // gone from the configuration
    Replace,  // stopped, then started with the new spec
    Update,   // changed in place, no restart (slice budget, strategy, restart policy ...)
    Revive,   // a failed tree, started afresh with a new intensity window
  };
  Kind kind = Kind::Update;
  bool supervisor = false;
  std::string target;  // "web/api@2", "web/db"
  std::string reason;  // "command changed", "new worker", "slice budget memory_max 1G -> 2G"
};
const char* toString(PlanLine::Kind kind);

struct ReloadPlan {
  std::vector<PlanLine> lines;  // supervisors and workers, in configuration order
  unsigned unchanged_workers = 0;
  unsigned unchanged_supervisors = 0;
  bool empty() const { return lines.empty(); }
};

// `failed_trees`: names of root trees that are failed now (a reload revives them).
// `overridden`: paths changed live by an operator (set, scale) that a reload puts back to
// the configuration.
ReloadPlan planReload(const Config& current,
                      const Config& next,
                      const std::set<std::string>& failed_trees = {},
                      const std::set<std::string>& overridden = {});

// "replace  web/api@2  (command changed)"; the summary line "unchanged: 3 worker(s),
// 1 supervisor(s)" comes last. Aligned for a terminal.
std::vector<std::string> formatPlan(const ReloadPlan& plan);

}  // namespace vigil::core
