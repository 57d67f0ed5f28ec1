#include "core/ReloadPlan.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/Duration.h"
#include "core/Size.h"
#include "core/UnitSpec.h"

namespace vigil::core {

const char* toString(PlanLine::Kind kind) {
  switch (kind) {
    case PlanLine::Kind::Start:
      return "start";
    case PlanLine::Kind::Stop:
      return "stop";
    case PlanLine::Kind::Replace:
      return "replace";
    case PlanLine::Kind::Update:
      return "update";
    case PlanLine::Kind::Revive:
      return "revive";
  }
  return "?";
}

namespace {

struct WorkerAt {
  std::string path;  // display name
  std::string owner;
  const WorkerSpec* spec = nullptr;
  UnitSpec unit;
};
struct SupAt {
  std::string path;
  const SupervisorSpec* spec = nullptr;
};

std::string join(const SupervisorPath& p) {
  std::string out;
  for (const auto& s : p) out += (out.empty() ? "" : "/") + s;
  return out;
}

// Depth first, in configuration order, with the engine's instance naming.
void walk(const SupervisorSpec& s,
          SupervisorPath path,
          std::vector<SupAt>& sups,
          std::vector<WorkerAt>& workers) {
  sups.push_back({join(path), &s});
  for (const auto& c : s.children) {
    if (c.supervisor) {
      SupervisorPath sub = path;
      sub.push_back(c.supervisor->name);
      walk(*c.supervisor, sub, sups, workers);
      continue;
    }
    const WorkerSpec& w = *c.worker;
    const bool named = w.instances > 1 || w.instance_names;
    for (unsigned i = 1; i <= w.instances; ++i) {
      const unsigned instance = named ? i : 0;
      workers.push_back(
          {displayName(path, w.name, instance), join(path), &w, buildUnitSpec(w, path, instance)});
    }
  }
}

std::string value(const std::optional<std::uint64_t>& v, bool size) {
  if (!v) return "unset";
  if (*v == kUnlimited) return "infinity";
  return size ? formatSize(*v) : std::to_string(*v);
}

// "memory_max 1G -> 2G, cpu_quota unset -> 50%".
std::string limitsDiff(const Limits& a, const Limits& b) {
  std::vector<std::string> parts;
  const auto cmp = [&](const char* key, const std::optional<std::uint64_t>& x,
                       const std::optional<std::uint64_t>& y, bool size) {
    if (x != y) parts.push_back(fmt::format("{} {} -> {}", key, value(x, size), value(y, size)));
  };
  cmp("memory_max", a.memory_max, b.memory_max, true);
  cmp("memory_high", a.memory_high, b.memory_high, true);
  const auto quota = [](const std::optional<std::uint32_t>& q) {
    if (!q) return std::string("unset");
    if (*q == kNoCpuQuota) return std::string("infinity");
    return fmt::format("{}%", *q);
  };
  if (a.cpu_quota != b.cpu_quota)
    parts.push_back(fmt::format("cpu_quota {} -> {}", quota(a.cpu_quota), quota(b.cpu_quota)));
  cmp("cpu_weight", a.cpu_weight, b.cpu_weight, false);
  cmp("tasks_max", a.tasks_max, b.tasks_max, false);
  cmp("io_weight", a.io_weight, b.io_weight, false);
  if (a.runtime_max != b.runtime_max) parts.push_back("runtime_max changed");
  if (a.nofile != b.nofile) parts.push_back("nofile changed");
  if (a.core != b.core) parts.push_back("core changed");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// Why two unit specs of the same unit differ, as the keys of vigil.yaml(5).
std::string unitDiff(const UnitSpec& a, const UnitSpec& b) {
  std::vector<std::string> parts;
  if (a.argv != b.argv) parts.push_back("command changed");
  if (a.environment != b.environment) parts.push_back("environment changed");
  if (a.working_directory != b.working_directory) parts.push_back("working_directory changed");
  if (a.user != b.user) parts.push_back("user changed");
  if (a.group != b.group) parts.push_back("group changed");
  if (!(a.limits == b.limits)) parts.push_back("limits: " + limitsDiff(a.limits, b.limits));
  if (a.kill_signal != b.kill_signal || a.timeout_stop != b.timeout_stop)
    parts.push_back("stop changed");
  if (a.timeout_start != b.timeout_start) parts.push_back("start_timeout changed");
  if (a.notify != b.notify || a.notify_access != b.notify_access) parts.push_back("notify changed");
  if (a.watchdog != b.watchdog) parts.push_back("watchdog changed");
  if (parts.empty()) parts.push_back("unit settings changed");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

// Changes that apply without a restart.
std::string policyDiff(const WorkerSpec& a, const WorkerSpec& b) {
  std::vector<std::string> parts;
  if (a.restart != b.restart)
    parts.push_back(fmt::format("restart {} -> {}", toString(a.restart), toString(b.restart)));
  if (!(a.backoff == b.backoff)) parts.push_back("backoff changed");
  if (!(a.health == b.health)) parts.push_back("health changed");
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

std::string supDiff(const SupervisorSpec& a, const SupervisorSpec& b) {
  std::vector<std::string> parts;
  if (a.strategy != b.strategy)
    parts.push_back(fmt::format("strategy {} -> {}", toString(a.strategy), toString(b.strategy)));
  if (!(a.intensity == b.intensity))
    parts.push_back(fmt::format("intensity {} in {} -> {} in {}", a.intensity.max_restarts,
                                formatDuration(a.intensity.period), b.intensity.max_restarts,
                                formatDuration(b.intensity.period)));
  if (!(a.limits == b.limits)) parts.push_back("slice budget " + limitsDiff(a.limits, b.limits));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
  return out;
}

bool under(const std::string& path, const std::set<std::string>& roots) {
  const std::string tree = path.substr(0, path.find('/'));
  return roots.count(tree) > 0;
}

}  // namespace

ReloadPlan planReload(const Config& current,
                      const Config& next,
                      const std::set<std::string>& failed_trees,
                      const std::set<std::string>& overridden) {
  std::vector<SupAt> old_sups, new_sups;
  std::vector<WorkerAt> old_workers, new_workers;
  for (const auto& t : current.trees) walk(t, {t.name}, old_sups, old_workers);
  for (const auto& t : next.trees) walk(t, {t.name}, new_sups, new_workers);
  std::map<std::string, const SupAt*> old_sup_by_path;
  for (const auto& s : old_sups) old_sup_by_path[s.path] = &s;
  std::map<std::string, const WorkerAt*> old_by_unit;
  for (const auto& w : old_workers) old_by_unit[w.unit.name] = &w;
  std::set<std::string> new_units, new_sup_paths;
  for (const auto& w : new_workers) new_units.insert(w.unit.name);
  for (const auto& s : new_sups) new_sup_paths.insert(s.path);

  ReloadPlan plan;
  // Removals first: the engine stops what is gone before anything is started in its place.
  for (const auto& s : old_sups) {
    if (!new_sup_paths.count(s.path))
      plan.lines.push_back({PlanLine::Kind::Stop, true, s.path, "removed from the configuration"});
  }
  for (const auto& w : old_workers) {
    if (new_units.count(w.unit.name)) continue;
    const bool same_worker = std::any_of(
        new_workers.begin(), new_workers.end(),
        [&](const auto& n) { return n.owner == w.owner && n.spec->name == w.spec->name; });
    plan.lines.push_back(
        {PlanLine::Kind::Stop, false, w.path,
         same_worker ? "instance no longer configured" : "removed from the configuration"});
  }
  for (const auto& s : new_sups) {
    auto old = old_sup_by_path.find(s.path);
    if (old == old_sup_by_path.end()) {
      plan.lines.push_back({PlanLine::Kind::Start, true, s.path, "new supervisor"});
      continue;
    }
    if (s.path.find('/') == std::string::npos && failed_trees.count(s.path)) {
      plan.lines.push_back({PlanLine::Kind::Revive, true, s.path,
                            "failed; started afresh with a new intensity window"});
      continue;
    }
    std::string why = supDiff(*old->second->spec, *s.spec);
    if (overridden.count(s.path))
      why += std::string(why.empty() ? "" : ", ") + "slice budget set live reverts to the file";
    if (why.empty()) {
      plan.unchanged_supervisors++;
    } else {
      plan.lines.push_back({PlanLine::Kind::Update, true, s.path, why});
    }
  }
  for (const auto& w : new_workers) {
    auto old = old_by_unit.find(w.unit.name);
    if (old == old_by_unit.end()) {
      const bool same_worker = std::any_of(
          old_workers.begin(), old_workers.end(),
          [&](const auto& o) { return o.owner == w.owner && o.spec->name == w.spec->name; });
      plan.lines.push_back(
          {PlanLine::Kind::Start, false, w.path, same_worker ? "instance added" : "new worker"});
      continue;
    }
    if (under(w.path, failed_trees)) continue;  // the tree's revive line covers it
    const WorkerAt& o = *old->second;
    if (o.unit.fingerprint != w.unit.fingerprint) {
      plan.lines.push_back({PlanLine::Kind::Replace, false, w.path, unitDiff(o.unit, w.unit)});
      continue;
    }
    std::string why = policyDiff(*o.spec, *w.spec);
    if (overridden.count(w.path))
      why += std::string(why.empty() ? "" : ", ") + "limits set live revert to the file";
    if (why.empty()) {
      plan.unchanged_workers++;
    } else {
      plan.lines.push_back({PlanLine::Kind::Update, false, w.path, why});
    }
  }
  return plan;
}

std::vector<std::string> formatPlan(const ReloadPlan& plan) {
  std::size_t width = 0;
  for (const auto& l : plan.lines) width = std::max(width, l.target.size());
  std::vector<std::string> out;
  for (const auto& l : plan.lines) {
    out.push_back(fmt::format("{:<8} {:<{}}  ({})", toString(l.kind), l.target, width, l.reason));
  }
  out.push_back(fmt::format("unchanged: {} worker(s), {} supervisor(s)", plan.unchanged_workers,
                            plan.unchanged_supervisors));
  return out;
}

}  // namespace vigil::core
