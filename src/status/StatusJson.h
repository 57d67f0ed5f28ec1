#pragma once
// The JSON form of the status: `vigilctl status --json`, `vigilctl events --json` and the
// state file. Keys are the field names of status/StatusSnapshot.h; the document is
// {"schema": 1, "taken_realtime_usec": N, "vigild": {...}, "supervisors": [...],
// "workers": [...]}, documented in vigilctl(1) (JSON OUTPUT). A field is only ever added
// to schema 1; removing or changing one bumps "schema".

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "status/StatusSnapshot.h"

namespace vigil::status {

inline constexpr int kJsonSchema = 1;

nlohmann::json toJson(const StatusSnapshot& snapshot);
nlohmann::json toJson(const WorkerView& worker);
nlohmann::json toJson(const SupervisorView& supervisor);
nlohmann::json toJson(const VigildView& vigild);
nlohmann::json toJson(const EventView& event);

// The document of toJson(snapshot), plus "events" (oldest first) when `events` is given,
// as compact JSON text written one supervisor, worker and event at a time: what it holds
// at once is the text and one element's tree, not a tree of the whole fleet. Strings that
// are not valid UTF-8 are written with U+FFFD in place of the bad bytes. Keys may come in
// another order than toJson's (objects are unordered). For the state file: measured with
// callgrind (bench/run --profile), the whole-fleet tree of 200 workers cost 85 k
// instructions per worker per write, and at 1000 workers it left vigild's heap fragmented.
std::string toJsonText(const StatusSnapshot& snapshot, const std::vector<EventView>* events);

}  // namespace vigil::status
