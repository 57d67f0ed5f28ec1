#pragma once
// The JSON form of the status: `vigilctl status --json`, `vigilctl events --json` and the
// state file. Keys are the field names of status/StatusSnapshot.h; the document is
// {"schema": 1, "taken_realtime_usec": N, "vigild": {...}, "supervisors": [...],
// "workers": [...]}, documented in vigilctl(1) (JSON OUTPUT). A field is only ever added
// to schema 1; removing or changing one bumps "schema".

#include <nlohmann/json.hpp>

#include "status/StatusSnapshot.h"

namespace vigil::status {

inline constexpr int kJsonSchema = 1;

nlohmann::json toJson(const StatusSnapshot& snapshot);
nlohmann::json toJson(const WorkerView& worker);
nlohmann::json toJson(const SupervisorView& supervisor);
nlohmann::json toJson(const VigildView& vigild);
nlohmann::json toJson(const EventView& event);

}  // namespace vigil::status
