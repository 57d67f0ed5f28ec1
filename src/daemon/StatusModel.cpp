#include "daemon/StatusModel.h"

namespace vigil::daemon {

namespace {
// Is `path` the target or below it? Targets: "tree", "tree/sub", "tree/w", "tree/w@2".
bool within(const std::string& path, const std::string& target) {
  if (target.empty() || path == target) return true;
  if (path.size() <= target.size() || !path.starts_with(target)) return false;
  const char next = path[target.size()];
  return next == '/' || (next == '@' && target.find('@') == std::string::npos);
}
}  // namespace

StatusModel::Bucket StatusModel::bucketOf(core::ChildState state) {
  switch (state) {
    case core::ChildState::Running:
      return Bucket::Running;
    case core::ChildState::Waiting:
      return Bucket::Backoff;
    default:
      return Bucket::Other;
  }
}

void StatusModel::count(Bucket b, int delta) {
  unsigned& c = b == Bucket::Running   ? counts_.running
                : b == Bucket::Backoff ? counts_.backoff
                                       : counts_.other;
  c = static_cast<unsigned>(static_cast<int>(c) + delta);
}

void StatusModel::rebuild(const core::Engine& engine, core::TimePoint now) {
  supervisors_ = engine.supervisors(now);
  buckets_.clear();
  supervisor_index_.clear();
  counts_ = {};
  // One worker at a time: a vector of every WorkerStatus was 872 bytes per worker at the
  // top of vigild's heap after each start or reload (massif, bench/RESULTS.md run 8).
  engine.forEachWorker(now, "", [this](core::WorkerStatus&& w) {
    const Bucket b = bucketOf(w.state);
    buckets_.emplace(std::move(w.unit), b);
    count(b, +1);
  });
  for (std::size_t i = 0; i < supervisors_.size(); ++i) {
    supervisor_index_[supervisors_[i].path] = i;
    const auto& s = supervisors_[i];
    if (s.path == s.tree && s.state == core::SupervisorState::Failed) counts_.failed_trees++;
  }
}

void StatusModel::update(const core::Engine& engine,
                         const core::Engine::Changes& changes,
                         core::TimePoint now) {
  if (changes.all) {
    rebuild(engine, now);
    return;
  }
  for (const auto& unit : changes.units) {
    auto it = buckets_.find(unit);
    if (it == buckets_.end()) continue;  // not a worker of the tree (a removed unit)
    auto fresh = engine.worker(unit, now);
    if (!fresh) continue;
    count(it->second, -1);
    it->second = bucketOf(fresh->state);
    count(it->second, +1);
  }
  for (const auto& path : changes.supervisors) {
    auto it = supervisor_index_.find(path);
    if (it == supervisor_index_.end()) continue;
    auto fresh = engine.supervisor(path, now);
    if (!fresh) continue;
    core::SupervisorStatus& s = supervisors_[it->second];
    const bool root = s.path == s.tree;
    if (root && s.state == core::SupervisorState::Failed) counts_.failed_trees--;
    s = std::move(*fresh);
    if (root && s.state == core::SupervisorState::Failed) counts_.failed_trees++;
  }
}

std::vector<std::string> StatusModel::unitsOf(const core::Engine& engine,
                                              const std::string& target,
                                              core::TimePoint now) const {
  std::vector<std::string> out;
  engine.forEachWorker(now, target,
                       [&out](core::WorkerStatus&& w) { out.push_back(std::move(w.unit)); });
  return out;
}

status::StatusSnapshot StatusModel::head(const core::Engine& engine,
                                         const status::Clocks& clocks,
                                         status::VigildView vigild,
                                         const std::string& target,
                                         const MetricsSampler* sampler) const {
  status::StatusSnapshot snap;
  snap.taken_realtime_usec = clocks.realtime_usec;
  snap.vigild = std::move(vigild);
  for (const auto& s : supervisors_) {
    // A supervisor is shown when it is inside the target or on the way to it.
    if (!within(s.path, target) && !within(target, s.path)) continue;
    auto live = engine.supervisor(s.path, clocks.monotonic);  // the window slides with time
    snap.supervisors.push_back(status::supervisorView(live ? *live : s));
    if (sampler) {
      const auto* e = sampler->find(snap.supervisors.back().slice);
      if (e && e->sampled) snap.supervisors.back().cgroup_stats = e->view;
    }
  }
  return snap;
}

void StatusModel::forEachWorker(const core::Engine& engine,
                                const status::Clocks& clocks,
                                const FactsFn& facts,
                                const MetricsSampler* sampler,
                                const std::string& target,
                                const std::function<void(status::WorkerView&&)>& fn) const {
  engine.forEachWorker(clocks.monotonic, target, [&](core::WorkerStatus&& w) {
    auto owner = supervisor_index_.find(w.supervisor);
    status::WorkerView v =
        status::workerView(w,
                           owner == supervisor_index_.end() ? core::SupervisorState::Running
                                                            : supervisors_[owner->second].state,
                           clocks);
    if (facts) {
      if (auto f = facts(w.unit)) {
        v.active_state = std::move(f->active_state);
        v.main_pid = f->main_pid;
        v.cgroup = std::move(f->cgroup);
      }
    }
    const bool live = w.state == core::ChildState::Running ||
                      w.state == core::ChildState::Starting ||
                      w.state == core::ChildState::Stopping;
    if (sampler && live) {
      if (const auto* e = sampler->find(w.unit); e && e->sampled) {
        v.memory_current_bytes = e->view.memory_current_bytes;
        v.cpu_usage_usec = e->view.cpu_usage_usec;
        v.tasks_current = e->view.tasks_current;
        v.oom_kills = e->view.oom_kills;
        v.sampled_realtime_usec = e->view.sampled_realtime_usec;
        v.cgroup_stats = e->view;
      }
    }
    if (!live) v.main_pid = 0;
    fn(std::move(v));
  });
}

std::shared_ptr<const status::StatusSnapshot> StatusModel::snapshot(
    const core::Engine& engine,
    const status::Clocks& clocks,
    const FactsFn& facts,
    const MetricsSampler* sampler,
    status::VigildView vigild,
    const std::string& target) const {
  auto snap = std::make_shared<status::StatusSnapshot>(
      head(engine, clocks, std::move(vigild), target, sampler));
  forEachWorker(engine, clocks, facts, sampler, target,
                [&snap](status::WorkerView&& v) { snap->workers.push_back(std::move(v)); });
  return snap;
}

}  // namespace vigil::daemon
