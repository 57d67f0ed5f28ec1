#pragma once
// `vigilctl top`: the tree with live figures, like systemd-cgtop but tree-aware. The pure
// part: rows from a snapshot (rates are vigild's, between its last two sweeps), siblings
// sorted by a key, and the table as text lines. TopScreen (ncurses) and the one-shot table for a
// pipe both print these lines. Golden-tested (tests/unit/render_test.cpp).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "status/StatusSnapshot.h"

namespace vigil::ctl {

// What siblings are ordered by: their start order, or a figure, highest first (the keys
// of `vigilctl top`: c, m, t, r; p for the start order).
enum class TopSort { Tree, Cpu, Memory, Tasks, Restarts };
const char* toString(TopSort sort);  // "start order", "CPU", "memory", "tasks", "restarts"

struct TopRow {
  std::size_t depth = 0;
  bool supervisor = false;
  std::string name;  // the leaf: "api@2", "backend"
  std::string path;
  std::string state;
  std::optional<double> cpu_percent;  // of one core, between vigild's last two sweeps
  std::optional<std::uint64_t> memory_bytes;
  std::optional<std::uint64_t> memory_limit_bytes;  // memory.max
  std::optional<std::uint64_t> tasks;
  std::optional<std::uint64_t> tasks_limit;
  // Bytes per second between vigild's last two sweeps.
  std::optional<double> io_read_per_sec;
  std::optional<double> io_write_per_sec;
  std::optional<double> memory_pressure_percent;  // PSI memory some avg10
  std::uint32_t restarts = 0;  // a worker's restarts; a supervisor's within its window
  std::string health;          // a checked worker's health; "" : no checks (or a supervisor)
};

// Every supervisor and worker of `current` in tree order (depth first), each supervisor's
// children ordered by `sort` (ties and TopSort::Tree: start order).
std::vector<TopRow> topRows(const status::StatusSnapshot& current, TopSort sort);

// The column header, then one line per row (indented two columns per level), each cut to
// `width` columns (0: not cut).
std::vector<std::string> topTable(const std::vector<TopRow>& rows, std::size_t width);

// The first line: vigild's version, the counts, the sort key and the keys.
std::string topHeader(const status::StatusSnapshot& snapshot, TopSort sort);

}  // namespace vigil::ctl
