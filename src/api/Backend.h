#pragma once
// What the D-Bus API serves, as vigild's daemon layer provides it. The API server
// (api/ApiServer) only decodes calls, checks the caller and encodes answers; everything
// it reads and every command it forwards goes through this interface, so the server is
// tested against a small backend and vigild's Daemon implements it for real.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

#include "core/Engine.h"
#include "status/StatusSnapshot.h"

namespace vigil::api {

// The answer to Reload: the plan (core::formatPlan lines) and whether it was applied.
struct ReloadAnswer {
  bool applied = false;  // false for a dry run
  std::vector<std::string> plan;
  std::vector<std::string> warnings;  // file:line:col: warning: lines
  std::uint32_t generation = 0;       // the config generation after the call
};

// Pushed by the backend to the API server (which emits the bus signals).
class Listener {
 public:
  virtual ~Listener() = default;
  virtual void eventPublished(const status::EventView& event) = 0;
  virtual void operationFinished(const core::Completion& completion) = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual status::VigildView info() = 0;
  // Supervisors and workers at or below `target` ("" = everything) with cgroup figures at
  // most a second old, answered through `done` (on the loop, possibly later: the figures
  // are sampled first). An unknown target is a CommandError (UnknownTarget).
  using SnapshotDone = std::function<void(
      tl::expected<std::shared_ptr<const status::StatusSnapshot>, core::CommandError>)>;
  virtual void status(const std::string& target, SnapshotDone done) = 0;
  // The cgroup history of every worker instance and supervisor at or below `target` ("" =
  // everything) over the last `range` (clipped to what the rings hold), with `points`
  // sparkline values per metric (at most kMaxHistoryPoints). Errors: an unknown target
  // (UnknownTarget); a range that is not positive or a point count above the maximum
  // (InvalidArgument).
  static constexpr std::uint32_t kMaxHistoryPoints = 600;
  virtual tl::expected<std::vector<status::HistoryView>, core::CommandError> history(
      const std::string& target, core::Usec range, std::uint32_t points) = 0;
  // The newest `max` events kept in memory (0: all), oldest first.
  virtual std::vector<status::EventView> recentEvents(std::size_t max) = 0;
  // Every path a command can name.
  virtual std::vector<std::string> targets() = 0;
  // An operator's command (see core::Engine::command); its end comes as
  // Listener::operationFinished unless the answer's operation is 0 (nothing to do).
  virtual tl::expected<core::CommandAccepted, core::CommandError> command(
      const core::Command& command) = 0;
  // Re-reads the configuration file: validates it and computes the plan; applies it
  // unless `dry_run`. An invalid file is a CommandError named kErrorInvalidConfig whose
  // message is the file:line:col errors, one per line; nothing changes.
  virtual tl::expected<ReloadAnswer, core::CommandError> reload(bool dry_run,
                                                                const std::string& caller) = 0;

  virtual void setListener(Listener* listener) = 0;
};

inline constexpr const char* kErrorInvalidConfig = "org.vigil.Vigil1.Error.InvalidConfig";

}  // namespace vigil::api
