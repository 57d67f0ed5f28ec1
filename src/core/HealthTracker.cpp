#include "core/HealthTracker.h"

#include <fmt/format.h>

#include "core/Duration.h"

namespace vigil::core {

const char* toString(HealthState state) {
  switch (state) {
    case HealthState::Unknown:
      return "unknown";
    case HealthState::Starting:
      return "starting";
    case HealthState::Healthy:
      return "healthy";
    case HealthState::Unhealthy:
      return "unhealthy";
  }
  return "unknown";
}

namespace {

std::string percent(std::uint32_t centipercent) {
  if (centipercent % 100 == 0) return fmt::format("{}%", centipercent / 100);
  return fmt::format("{:.2f}%", centipercent / 100.0);
}

}  // namespace

std::string describeHealth(const HealthSpec& spec) {
  std::string out;
  switch (spec.probe) {
    case HealthSpec::Probe::Http:
      out = fmt::format("http GET {}", spec.url);
      break;
    case HealthSpec::Probe::Tcp:
      out = fmt::format("tcp {}", spec.address);
      break;
    case HealthSpec::Probe::Exec:
      out = fmt::format("exec {}", spec.argv.empty() ? std::string() : spec.argv.front());
      break;
    case HealthSpec::Probe::None:
      break;
  }
  if (!out.empty()) out += fmt::format(" every {}", formatDuration(spec.interval));
  if (spec.memory_pressure) {
    if (!out.empty()) out += ", ";
    out += fmt::format("memory_pressure above {} for {}",
                       percent(spec.memory_pressure->above_centipercent),
                       formatDuration(spec.memory_pressure->duration));
  }
  return out;
}

namespace {

std::string substitute(const std::string& text, const std::string& instance) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 1 < text.size() && (text[i + 1] == 'i' || text[i + 1] == '%')) {
      out += text[i + 1] == 'i' ? instance : "%";
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

HealthSpec withInstance(HealthSpec spec, unsigned instance) {
  const std::string n = instance ? std::to_string(instance) : std::string();
  spec.url = substitute(spec.url, n);
  spec.address = substitute(spec.address, n);
  for (auto& a : spec.argv) a = substitute(a, n);
  return spec;
}

HealthTracker::HealthTracker(const HealthSpec& spec, TimePoint started)
    : spec_(spec),
      started_(started),
      state_(spec.probe == HealthSpec::Probe::None ? HealthState::Healthy : HealthState::Starting),
      probe_state_(state_) {}

std::optional<HealthChange> HealthTracker::onProbe(bool ok,
                                                   const std::string& detail,
                                                   TimePoint now) {
  if (spec_.probe == HealthSpec::Probe::None) return std::nullopt;
  last_probe_ = detail;
  if (ok) {
    failures_ = 0;
    ++successes_;
    if (probe_state_ != HealthState::Healthy && successes_ >= spec_.successes)
      probe_state_ = HealthState::Healthy;
  } else {
    successes_ = 0;
    const bool grace = probe_state_ == HealthState::Starting && now < started_ + spec_.start_period;
    if (!grace) {
      ++failures_;
      if (failures_ >= spec_.failures) probe_state_ = HealthState::Unhealthy;
    }
  }
  return settle(fmt::format("{}: {}", toString(spec_.probe), detail));
}

std::optional<HealthChange> HealthTracker::onMemoryPressure(
    std::optional<std::uint32_t> avg10_centipercent, TimePoint now) {
  if (!spec_.memory_pressure || !avg10_centipercent) return std::nullopt;
  const auto& rule = *spec_.memory_pressure;
  const std::uint32_t v = *avg10_centipercent;
  if (v > rule.above_centipercent) {
    if (!above_since_) above_since_ = now;
    if (pressure_tripped_ || now - *above_since_ < rule.duration) return std::nullopt;
    pressure_tripped_ = true;
    return settle(fmt::format("memory_pressure: some avg10 {} above {} for {}", percent(v),
                              percent(rule.above_centipercent), formatDuration(rule.duration)));
  }
  above_since_.reset();
  if (!pressure_tripped_) return std::nullopt;
  pressure_tripped_ = false;
  return settle(fmt::format("memory_pressure: some avg10 {} at or below {}", percent(v),
                            percent(rule.above_centipercent)));
}

std::optional<HealthChange> HealthTracker::settle(std::string detail) {
  const HealthState next = pressure_tripped_ ? HealthState::Unhealthy : probe_state_;
  if (next == state_) return std::nullopt;
  HealthChange change{state_, next, std::move(detail)};
  state_ = next;
  return change;
}

}  // namespace vigil::core
