#pragma once
// The JSON form of the status: `vigilctl status --json`, `vigilctl events --json` and the
// state file. Keys are the field names of status/StatusSnapshot.h; the document is
// {"schema": 1, "taken_realtime_usec": N, "vigild": {...}, "supervisors": [...],
// "workers": [...]}, documented in vigilctl(1) (JSON OUTPUT). A field is only ever added
// to schema 1; removing or changing one bumps "schema".

#include <functional>
#include <string>
#include <string_view>
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
// A history view; a series' HistoryMetricView::kNoSample becomes null.
nlohmann::json toJson(const HistoryView& history);

// The document of toJson(snapshot), plus "events" (oldest first) when `events` is given,
// as compact JSON text written one supervisor, worker and event at a time: what it holds
// at once is the text and one element's tree, not a tree of the whole fleet. Strings that
// are not valid UTF-8 are written with U+FFFD in place of the bad bytes. Keys may come in
// another order than toJson's (objects are unordered). For the state file: measured with
// callgrind (bench/run --profile), the whole-fleet tree of 200 workers cost 85 k
// instructions per worker per write, and at 1000 workers it left vigild's heap fragmented.
std::string toJsonText(const StatusSnapshot& snapshot, const std::vector<EventView>* events);

// Receives a document's text in pieces, in order.
using TextSink = std::function<void(std::string_view piece)>;
// Hands `emit` each worker / event of a document, in order.
using WorkerSource = std::function<void(const std::function<void(const WorkerView&)>& emit)>;
using EventSource = std::function<void(const std::function<void(const EventView&)>& emit)>;

// toJsonText's document, given to `sink` piece by piece as it is written, with the
// workers `workers` emits in place of head.workers (not read) and "events" from `events`
// (absent when null). With sources that compose each element as they emit it (the state
// file's, from StatusModel::forEachWorker) nothing of the fleet is held at once (the
// text and views of a write were 1.45 KB per worker in massif's settled heap before,
// bench/RESULTS.md run 7).
void writeJsonText(const StatusSnapshot& head,
                   const WorkerSource& workers,
                   const EventSource* events,
                   const TextSink& sink);

}  // namespace vigil::status
