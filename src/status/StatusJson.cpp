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

template <class T>
void appendArray(std::string& out, const char* key, const std::vector<T>& items) {
  out += ",\"";
  out += key;
  out += "\":[";
  bool first = true;
  for (const auto& item : items) {
    if (!first) out += ',';
    first = false;
    out += compact(toJson(item));
  }
  out += ']';
}

}  // namespace

std::string toJsonText(const StatusSnapshot& s, const std::vector<EventView>* events) {
  std::string out = "{\"schema\":";
  out += std::to_string(kJsonSchema);
  out += ",\"taken_realtime_usec\":";
  out += std::to_string(s.taken_realtime_usec);
  out += ",\"vigild\":";
  out += compact(toJson(s.vigild));
  appendArray(out, "supervisors", s.supervisors);
  appendArray(out, "workers", s.workers);
  if (events) appendArray(out, "events", *events);
  out += '}';
  return out;
}

}  // namespace vigil::status
