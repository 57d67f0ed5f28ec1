#include "core/Spec.h"

namespace vigil::core {

// The spellings are the ones vigil.yaml uses, so messages and `vigilctl` output can be
// pasted back into the config.
const char* toString(RestartPolicy policy) {
  switch (policy) {
    case RestartPolicy::Permanent:
      return "permanent";
    case RestartPolicy::Transient:
      return "transient";
    case RestartPolicy::Temporary:
      return "temporary";
  }
  return "unknown";
}

const char* toString(Strategy strategy) {
  switch (strategy) {
    case Strategy::OneForOne:
      return "one_for_one";
    case Strategy::OneForAll:
      return "one_for_all";
    case Strategy::RestForOne:
      return "rest_for_one";
  }
  return "unknown";
}

const char* toString(NotifyAccess access) {
  switch (access) {
    case NotifyAccess::Main:
      return "main";
    case NotifyAccess::Exec:
      return "exec";
    case NotifyAccess::All:
      return "all";
  }
  return "unknown";
}

const char* toString(HealthSpec::Probe probe) {
  switch (probe) {
    case HealthSpec::Probe::None:
      return "none";
    case HealthSpec::Probe::Http:
      return "http";
    case HealthSpec::Probe::Tcp:
      return "tcp";
    case HealthSpec::Probe::Exec:
      return "exec";
  }
  return "unknown";
}

const std::string& ChildSpec::name() const {
  static const std::string kEmpty;
  if (worker) return worker->name;
  if (supervisor) return supervisor->name;
  return kEmpty;
}

}  // namespace vigil::core
