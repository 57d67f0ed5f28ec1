#include "daemon/RecentEvents.h"

namespace vigil::daemon {

void RecentEvents::publish(const core::Event&, const status::EventView& view) {
  events_.push_back(view);
  while (events_.size() > keep_) events_.pop_front();
}

std::vector<status::EventView> RecentEvents::last(std::size_t max) const {
  std::vector<status::EventView> out;
  forEachLast(max, [&out](const status::EventView& e) { out.push_back(e); });
  return out;
}

void RecentEvents::forEachLast(std::size_t max,
                               const std::function<void(const status::EventView&)>& emit) const {
  const std::size_t n = max == 0 || max > events_.size() ? events_.size() : max;
  for (auto it = events_.end() - static_cast<std::ptrdiff_t>(n); it != events_.end(); ++it)
    emit(*it);
}

}  // namespace vigil::daemon
