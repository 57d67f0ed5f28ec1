#include "status/StatusJson.h"

#include <type_traits>

namespace vigil::status {

namespace {

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};
template <class T>
struct IsVector : std::false_type {};
template <class T>
struct IsVector<std::vector<T>> : std::true_type {};

template <class T>
nlohmann::json value(const T& v);

template <class T>
nlohmann::json object(const T& v) {
  nlohmann::json out = nlohmann::json::object();
  T::visitFields(v, [&out](const char* key, const auto& field) { out[key] = value(field); });
  return out;
}

template <class T>
nlohmann::json value(const T& v) {
  if constexpr (IsOptional<T>::value) {
    return v ? value(*v) : nlohmann::json(nullptr);
  } else if constexpr (IsVector<T>::value) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& e : v) arr.push_back(value(e));
    return arr;
  } else if constexpr (std::is_same_v<T, std::string> || std::is_arithmetic_v<T>) {
    return nlohmann::json(v);
  } else {
    return object(v);
  }
}

}  // namespace

nlohmann::json toJson(const WorkerView& w) {
  return object(w);
}
nlohmann::json toJson(const SupervisorView& s) {
  return object(s);
}
nlohmann::json toJson(const VigildView& v) {
  return object(v);
}
nlohmann::json toJson(const EventView& e) {
  return object(e);
}
nlohmann::json toJson(const HistoryView& h) {
  nlohmann::json out = object(h);
  for (auto& m : out["metrics"]) {
    for (auto& p : m["series"]) {
      if (p.get<std::uint64_t>() == HistoryMetricView::kNoSample) p = nullptr;
    }
  }
  return out;
}

nlohmann::json toJson(const StatusSnapshot& s) {
  nlohmann::json out;
  out["schema"] = kJsonSchema;
  out["taken_realtime_usec"] = s.taken_realtime_usec;
  out["vigild"] = toJson(s.vigild);
  out["supervisors"] = value(s.supervisors);
  out["workers"] = value(s.workers);
  return out;
}

namespace {

std::string compact(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// Writes `,"key":[` then each element `produce` emits, comma-separated, then `]`.
template <class T>
void writeArray(const TextSink& sink,
                const char* key,
                const std::function<void(const std::function<void(const T&)>&)>& produce) {
  sink(",\"");
  sink(key);
  sink("\":[");
  bool first = true;
  produce([&](const T& item) {
    if (!first) sink(",");
    first = false;
    sink(compact(toJson(item)));
  });
  sink("]");
}

template <class T>
std::function<void(const std::function<void(const T&)>&)> fromVector(const std::vector<T>& items) {
  return [&items](const std::function<void(const T&)>& emit) {
    for (const auto& item : items) emit(item);
  };
}

}  // namespace

void writeJsonText(const StatusSnapshot& head,
                   const WorkerSource& workers,
                   const EventSource* events,
                   const TextSink& sink) {
  sink("{\"schema\":");
  sink(std::to_string(kJsonSchema));
  sink(",\"taken_realtime_usec\":");
  sink(std::to_string(head.taken_realtime_usec));
  sink(",\"vigild\":");
  sink(compact(toJson(head.vigild)));
  writeArray<SupervisorView>(sink, "supervisors", fromVector(head.supervisors));
  writeArray<WorkerView>(sink, "workers", workers);
  if (events) writeArray<EventView>(sink, "events", *events);
  sink("}");
}

std::string toJsonText(const StatusSnapshot& s, const std::vector<EventView>* events) {
  std::string out;
  const TextSink sink = [&out](std::string_view piece) { out += piece; };
  if (events) {
    const EventSource source = fromVector(*events);
    writeJsonText(s, fromVector(s.workers), &source, sink);
  } else {
    writeJsonText(s, fromVector(s.workers), nullptr, sink);
  }
  return out;
}

}  // namespace vigil::status
