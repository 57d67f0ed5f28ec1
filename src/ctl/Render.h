#pragma once
// vigilctl's text views of a StatusSnapshot: the forest as an indented tree, and the
// detailed view of one worker (as `systemctl status` shows a unit). Pure: the caller
// supplies the log lines and the terminal's abilities. Golden-tested
// (tests/unit/render_test.cpp).

#include <string>
#include <vector>

#include "ctl/Format.h"
#include "status/StatusSnapshot.h"

namespace vigil::ctl {

struct RenderOptions {
  Style style;
  bool unicode = true;  // box-drawing characters for the tree (a UTF-8 locale)
};

// The header (vigild, configuration, counts, a rejected reload's errors) and the tree of
// every supervisor and worker in the snapshot, children in start order.
std::string renderTree(const status::StatusSnapshot& snapshot, const RenderOptions& options);

// `vigilctl status TARGET --history RANGE`: per cgroup a header (path, unit, range,
// samples), then per metric min, avg, max in human units and a sparkline of its series
// (scaled from the series' own minimum to its maximum; a blank where there is no sample).
std::string renderHistory(const std::vector<status::HistoryView>& histories,
                          const RenderOptions& options);

// One worker instance in detail: unit, slice, cgroup, main PID, uptime or next restart,
// limits against usage, restarts, the last exits with the decision taken for each, and
// `log_lines` (already formatted, oldest first) under "Output".
std::string renderWorker(const status::WorkerView& worker,
                         const status::SupervisorView* supervisor,
                         const std::vector<std::string>& log_lines,
                         const std::string& log_note,
                         const RenderOptions& options);

// One event as a line: "2026-11-30 12:01:02 worker-exited      web/api@2: exited with
// status 3 (exit-code)".
std::string renderEvent(const status::EventView& event, const Style& style);

}  // namespace vigil::ctl
