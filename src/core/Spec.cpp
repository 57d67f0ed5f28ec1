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

bool WorkerSpec::sameUnitAs(const WorkerSpec& other) const {
  // Every field except `where`; spelled out (rather than a defaulted comparison) so that a
  // field added to WorkerSpec fails review here instead of silently not restarting units.
  return name == other.name && command == other.command && environment == other.environment &&
         working_directory == other.working_directory && user == other.user &&
         group == other.group && limits == other.limits && restart == other.restart &&
         backoff == other.backoff && stop == other.stop && notify == other.notify &&
         watchdog == other.watchdog && instances == other.instances &&
         start_timeout == other.start_timeout;
}

const std::string& ChildSpec::name() const {
  static const std::string kEmpty;
  if (worker) return worker->name;
  if (supervisor) return supervisor->name;
  return kEmpty;
}

}  // namespace vigil::core
