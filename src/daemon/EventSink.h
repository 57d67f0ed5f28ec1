#pragma once
// Where supervision events go. The daemon hands every event, once, to each sink in turn:
// the journal (EventLog), the recent-events ring the API serves (RecentEvents), the
// API's bus signal; a new output (a webhook, an exporter) is one more sink. A sink must
// not block the loop and must not feed anything back to the engine.

#include "core/Event.h"
#include "status/StatusSnapshot.h"

namespace vigil::daemon {

class EventSink {
 public:
  virtual ~EventSink() = default;
  // `event` as the engine made it (monotonic time); `view` the same with its realtime
  // timestamp, as clients see it.
  virtual void publish(const core::Event& event, const status::EventView& view) = 0;
};

}  // namespace vigil::daemon
