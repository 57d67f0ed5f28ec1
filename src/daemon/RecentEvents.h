#pragma once
// The last events in memory, for the API's ListEvents (history that survives a vigild
// restart is in the journal: `vigilctl events` reads it there).

#include <cstddef>
#include <deque>
#include <functional>
#include <vector>

#include "daemon/EventSink.h"

namespace vigil::daemon {

class RecentEvents : public EventSink {
 public:
  explicit RecentEvents(std::size_t keep = 1000) : keep_(keep) {}
  void publish(const core::Event& event, const status::EventView& view) override;
  // The newest `max` events (all if max is 0), oldest first.
  std::vector<status::EventView> last(std::size_t max) const;
  // The same events handed to `emit` one at a time, without copying them.
  void forEachLast(std::size_t max,
                   const std::function<void(const status::EventView&)>& emit) const;

 private:
  std::size_t keep_;
  std::deque<status::EventView> events_;
};

}  // namespace vigil::daemon
