#include "daemon/SupervisionStore.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <limits>
#include <system_error>

#include <fmt/format.h>
#include <systemd/sd-id128.h>
#include <nlohmann/json.hpp>

#include "core/Digest.h"
#include "daemon/StateFile.h"

namespace vigil::daemon {

namespace {

using nlohmann::json;
constexpr const char* kStateFormat = "vigil-supervision-state";
constexpr const char* kLastGoodFormat = "vigil-last-good-config";

// A decoding failure: the field's path and what is wrong with it.
struct Bad {
  std::string what;
};

std::int64_t realtimeOf(core::TimePoint t, const status::Clocks& clocks) {
  return clocks.toRealtime(t);
}
core::TimePoint monotonicOf(std::int64_t realtime_usec, const status::Clocks& clocks) {
  return clocks.monotonic + core::Usec(realtime_usec - clocks.realtime_usec);
}

json encodeLimits(const core::Limits& l) {
  json j = json::object();
  if (l.memory_max) j["memory_max"] = *l.memory_max;
  if (l.memory_high) j["memory_high"] = *l.memory_high;
  if (l.cpu_quota) j["cpu_quota"] = *l.cpu_quota;
  if (l.cpu_weight) j["cpu_weight"] = *l.cpu_weight;
  if (l.tasks_max) j["tasks_max"] = *l.tasks_max;
  if (l.io_weight) j["io_weight"] = *l.io_weight;
  if (l.runtime_max) j["runtime_max_usec"] = l.runtime_max->count();
  if (l.nofile) j["nofile"] = json::array({l.nofile->soft, l.nofile->hard});
  if (l.core) j["core"] = json::array({l.core->soft, l.core->hard});
  return j;
}

// Typed reads that throw Bad naming the field.
// The member `key` of `obj`, or null when absent.
const json& member(const json& obj, const char* key) {
  static const json kNull;
  auto it = obj.find(key);
  return it == obj.end() ? kNull : *it;
}

std::uint64_t u64(const json& v, const std::string& where, std::uint64_t max) {
  if (!v.is_number_unsigned()) throw Bad{where + ": expected an unsigned integer"};
  const auto x = v.get<std::uint64_t>();
  if (x > max) throw Bad{fmt::format("{}: {} is beyond the limit of {}", where, x, max)};
  return x;
}

std::int64_t i64(const json& v, const std::string& where) {
  if (!v.is_number_integer()) throw Bad{where + ": expected an integer"};
  if (v.is_number_unsigned() &&
      v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    throw Bad{where + ": out of range"};
  const auto x = v.get<std::int64_t>();
  // Microseconds: within ±100 years of the epoch, so arithmetic on them cannot overflow.
  constexpr std::int64_t kBound = 100LL * 366 * 24 * 3600 * 1000000;
  if (x < -kBound || x > kBound) throw Bad{where + ": out of range"};
  return x;
}

std::string str(const json& v, const std::string& where) {
  if (!v.is_string()) throw Bad{where + ": expected a string"};
  std::string s = v.get<std::string>();
  if (s.size() > 64 * 1024) throw Bad{where + ": string too long"};
  return s;
}

bool flag(const json& v, const std::string& where) {
  if (v.is_null()) return false;
  if (!v.is_boolean()) throw Bad{where + ": expected true or false"};
  return v.get<bool>();
}

const json& object(const json& v, const std::string& where) {
  if (!v.is_object()) throw Bad{where + ": expected an object"};
  if (v.size() > kMaxPersistedEntries) throw Bad{where + ": too many entries"};
  return v;
}

core::Limits decodeLimits(const json& j, const std::string& where) {
  object(j, where);
  core::Limits l;
  constexpr std::uint64_t kAny = std::numeric_limits<std::uint64_t>::max();
  for (const auto& [key, v] : j.items()) {
    const std::string at = where + "." + key;
    if (key == "memory_max") {
      l.memory_max = u64(v, at, kAny);
    } else if (key == "memory_high") {
      l.memory_high = u64(v, at, kAny);
    } else if (key == "cpu_quota") {
      l.cpu_quota =
          static_cast<std::uint32_t>(u64(v, at, std::numeric_limits<std::uint32_t>::max()));
    } else if (key == "cpu_weight") {
      l.cpu_weight = u64(v, at, kAny);
    } else if (key == "tasks_max") {
      l.tasks_max = u64(v, at, kAny);
    } else if (key == "io_weight") {
      l.io_weight = u64(v, at, kAny);
    } else if (key == "runtime_max_usec") {
      l.runtime_max = core::Usec(static_cast<std::int64_t>(
          u64(v, at, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))));
    } else if (key == "nofile" || key == "core") {
      if (!v.is_array() || v.size() != 2) throw Bad{at + ": expected [soft, hard]"};
      const core::ResourceLimit r{u64(v[0], at, kAny), u64(v[1], at, kAny)};
      (key == "nofile" ? l.nofile : l.core) = r;
    } else {
      throw Bad{at + ": unknown limit"};
    }
  }
  return l;
}

// The whole of a small file, or why not.
util::Result<std::string> readWhole(const std::filesystem::path& path, std::size_t max) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return util::fail(std::generic_category().message(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return util::fail(std::generic_category().message(errno));
  if (!S_ISREG(st.st_mode)) return util::fail("not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max)
    return util::fail(fmt::format("{} bytes, more than the limit of {}", st.st_size, max));
  std::string text(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return util::fail(std::generic_category().message(errno));
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  text.resize(got);
  return text;
}

}  // namespace

std::string encodeSupervisionState(const core::SupervisionState& state,
                                   std::string_view config_digest,
                                   std::string_view boot_id,
                                   const status::Clocks& clocks) {
  json doc;
  doc["format"] = kStateFormat;
  doc["version"] = kSupervisionStateVersion;
  doc["boot_id"] = std::string(boot_id);
  doc["written_realtime_usec"] = clocks.realtime_usec;
  doc["config_digest"] = std::string(config_digest);
  json workers = json::object();
  for (const auto& [unit, w] : state.workers) {
    json j = json::object();
    if (w.restarts) j["restarts"] = w.restarts;
    if (w.failures) j["failures"] = w.failures;
    if (w.next_restart) j["next_restart_realtime_usec"] = realtimeOf(*w.next_restart, clocks);
    if (w.stopped) {
      j["stopped"] = true;
      j["stopped_by"] = w.stopped_by;
    }
    if (w.finished) j["finished"] = true;
    if (w.limits) j["limits"] = encodeLimits(*w.limits);
    if (!w.last_exit.empty()) {
      j["last_exit"] = w.last_exit;
      j["last_exit_reason"] = w.last_exit_reason;
      j["last_exit_kind"] = w.last_exit_kind;
    }
    workers[unit] = std::move(j);
  }
  doc["workers"] = std::move(workers);
  json sups = json::object();
  for (const auto& [path, s] : state.supervisors) {
    json j = json::object();
    if (!s.window.empty()) {
      json times = json::array();
      for (const auto t : s.window) times.push_back(realtimeOf(t, clocks));
      j["window_realtime_usec"] = std::move(times);
    }
    if (s.failed) {
      j["failed"] = true;
      j["failure"] = s.failure;
    }
    if (s.stopped) {
      j["stopped"] = true;
      j["stopped_by"] = s.stopped_by;
    }
    if (s.restart_at) j["restart_at_realtime_usec"] = realtimeOf(*s.restart_at, clocks);
    if (s.budget) j["budget"] = encodeLimits(*s.budget);
    sups[path] = std::move(j);
  }
  doc["supervisors"] = std::move(sups);
  json scale = json::object();
  for (const auto& [path, n] : state.scale) scale[path] = n;
  doc["scale"] = std::move(scale);
  // Invalid UTF-8 in a name or message is replaced, never a reason to lose the file.
  return doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

util::Result<DecodedState> decodeSupervisionState(std::string_view text,
                                                  std::string_view boot_id,
                                                  const status::Clocks& clocks) {
  if (text.size() > kMaxStateFileBytes)
    return util::fail(
        fmt::format("{} bytes, more than the limit of {}", text.size(), kMaxStateFileBytes));
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return util::fail("not valid JSON");
  try {
    object(doc, "the document");
    const json& format = member(doc, "format");
    if (!format.is_string() || format.get<std::string>() != kStateFormat)
      return util::fail(
          fmt::format("not a vigil supervision state (format is not \"{}\")", kStateFormat));
    const json& version = member(doc, "version");
    if (!version.is_number_integer() || version.get<std::int64_t>() != kSupervisionStateVersion)
      return util::fail(fmt::format("version {} is not the version this vigild reads ({})",
                                    version.dump(), kSupervisionStateVersion));
    const std::string boot = str(member(doc, "boot_id"), "boot_id");
    if (boot != boot_id) return util::fail("written during an earlier boot");
    DecodedState out;
    const json& digest = member(doc, "config_digest");
    if (!digest.is_null()) out.config_digest = str(digest, "config_digest");
    const auto ctime = [&](const json& v, const std::string& at) {
      return monotonicOf(i64(v, at), clocks);
    };
    if (const json& ws = member(doc, "workers"); !ws.is_null()) {
      for (const auto& [unit, j] : object(ws, "workers").items()) {
        const std::string at = "workers." + unit;
        object(j, at);
        core::PersistedWorker w;
        for (const auto& [key, v] : j.items()) {
          const std::string f = at + "." + key;
          if (key == "restarts") {
            w.restarts = static_cast<unsigned>(u64(v, f, kMaxPersistedCount));
          } else if (key == "failures") {
            w.failures = static_cast<unsigned>(u64(v, f, kMaxPersistedCount));
          } else if (key == "next_restart_realtime_usec") {
            w.next_restart = ctime(v, f);
          } else if (key == "stopped") {
            w.stopped = flag(v, f);
          } else if (key == "stopped_by") {
            w.stopped_by = str(v, f);
          } else if (key == "finished") {
            w.finished = flag(v, f);
          } else if (key == "limits") {
            w.limits = decodeLimits(v, f);
          } else if (key == "last_exit") {
            w.last_exit = str(v, f);
          } else if (key == "last_exit_reason") {
            w.last_exit_reason = str(v, f);
          } else if (key == "last_exit_kind") {
            w.last_exit_kind = str(v, f);
          } else {
            throw Bad{f + ": unknown field"};
          }
        }
        out.state.workers[unit] = std::move(w);
      }
    }
    if (const json& ss = member(doc, "supervisors"); !ss.is_null()) {
      for (const auto& [path, j] : object(ss, "supervisors").items()) {
        const std::string at = "supervisors." + path;
        object(j, at);
        core::PersistedSupervisor s;
        for (const auto& [key, v] : j.items()) {
          const std::string f = at + "." + key;
          if (key == "window_realtime_usec") {
            if (!v.is_array() || v.size() > 10000) throw Bad{f + ": expected a list of times"};
            for (const auto& t : v) s.window.push_back(ctime(t, f));
          } else if (key == "failed") {
            s.failed = flag(v, f);
          } else if (key == "failure") {
            s.failure = str(v, f);
          } else if (key == "stopped") {
            s.stopped = flag(v, f);
          } else if (key == "stopped_by") {
            s.stopped_by = str(v, f);
          } else if (key == "restart_at_realtime_usec") {
            s.restart_at = ctime(v, f);
          } else if (key == "budget") {
            s.budget = decodeLimits(v, f);
          } else {
            throw Bad{f + ": unknown field"};
          }
        }
        out.state.supervisors[path] = std::move(s);
      }
    }
    if (const json& sc = member(doc, "scale"); !sc.is_null()) {
      for (const auto& [path, v] : object(sc, "scale").items())
        out.state.scale[path] = static_cast<unsigned>(u64(v, "scale." + path, core::kMaxScale));
    }
    return out;
  } catch (const Bad& bad) {
    return util::fail(bad.what);
  } catch (const json::exception& e) {
    return util::fail(e.what());
  }
}

std::string ConfigCopy::digest() const {
  core::Digest d;
  for (const std::string_view part : {config_file, config, tier_file, tier}) d.add(part);
  return d.hex();
}

ConfigCopy copyOf(const std::vector<config::SourceText>& sources) {
  ConfigCopy c;
  if (!sources.empty()) {
    c.config_file = sources[0].path;
    c.config = sources[0].text;
  }
  if (sources.size() > 1) {
    c.tier_file = std::filesystem::path(sources[1].path).filename().string();
    c.tier = sources[1].text;
  }
  return c;
}

std::string encodeLastGood(const ConfigCopy& copy) {
  json doc;
  doc["format"] = kLastGoodFormat;
  doc["version"] = kLastGoodVersion;
  doc["saved_realtime_usec"] = copy.saved_realtime_usec;
  doc["digest"] = copy.digest();
  doc["config_file"] = copy.config_file;
  doc["config"] = copy.config;
  doc["tier_file"] = copy.tier_file;
  doc["tier"] = copy.tier;
  return doc.dump(1, ' ', false, json::error_handler_t::replace) + "\n";
}

util::Result<ConfigCopy> decodeLastGood(std::string_view text) {
  const json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded()) return util::fail("not valid JSON");
  try {
    object(doc, "the document");
    const json& format = member(doc, "format");
    if (!format.is_string() || format.get<std::string>() != kLastGoodFormat)
      return util::fail(
          fmt::format("not a vigil configuration copy (format is not \"{}\")", kLastGoodFormat));
    const json& version = member(doc, "version");
    if (!version.is_number_integer() || version.get<std::int64_t>() != kLastGoodVersion)
      return util::fail(fmt::format("version {} is not the version this vigild reads ({})",
                                    version.dump(), kLastGoodVersion));
    ConfigCopy c;
    c.saved_realtime_usec = i64(member(doc, "saved_realtime_usec"), "saved_realtime_usec");
    c.config_file = str(member(doc, "config_file"), "config_file");
    c.config = doc.at("config").get<std::string>();
    c.tier_file = str(member(doc, "tier_file"), "tier_file");
    c.tier = doc.at("tier").get<std::string>();
    if (c.tier_file.find('/') != std::string::npos || c.tier_file == "." || c.tier_file == "..")
      return util::fail("tier_file: not a file name");
    if (str(member(doc, "digest"), "digest") != c.digest())
      return util::fail("the digest does not match the content (a damaged copy)");
    return c;
  } catch (const Bad& bad) {
    return util::fail(bad.what);
  } catch (const json::exception& e) {
    return util::fail(e.what());
  }
}

SupervisionStore::SupervisionStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

SupervisionStore::Loaded SupervisionStore::load(std::string_view boot_id,
                                                const status::Clocks& clocks) const {
  Loaded out;
  if (dir_.empty()) return out;
  const auto path = statePath();
  auto text = readWhole(path, kMaxStateFileBytes);
  if (!text) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      out.note =
          fmt::format("no supervision state in {}: starting from systemd's view", path.string());
      return out;
    }
    out.warning = true;
    out.note = fmt::format("cannot read the supervision state {}: {}; starting from systemd's view",
                           path.string(), text.error().message());
    return out;
  }
  auto decoded = decodeSupervisionState(*text, boot_id, clocks);
  if (!decoded) {
    const bool earlier_boot = decoded.error().message() == "written during an earlier boot";
    out.warning = !earlier_boot;
    // A damaged file is kept for a post-mortem, out of the way of the next write; one from
    // an earlier boot is simply replaced by the next.
    std::error_code ec = std::make_error_code(std::errc::operation_canceled);
    if (!earlier_boot) std::filesystem::rename(path, dir_ / "supervision.json.bad", ec);
    out.note = fmt::format(
        "supervision state {} {}{}; starting from systemd's view{}", path.string(),
        earlier_boot ? "was " : "cannot be used: ", decoded.error().message(),
        ec ? ""
           : fmt::format(" (the file was moved to {})", (dir_ / "supervision.json.bad").string()));
    return out;
  }
  out.note =
      fmt::format("supervision state restored from {}: {} worker(s), {} supervisor(s), {} scale(s)",
                  path.string(), decoded->state.workers.size(), decoded->state.supervisors.size(),
                  decoded->state.scale.size());
  out.state = std::move(*decoded);
  return out;
}

void SupervisionStore::update(const core::Engine& engine,
                              const core::Engine::Changes& changes,
                              core::TimePoint now) {
  if (dir_.empty()) return;
  if (changes.all) {
    core::SupervisionState fresh = engine.supervisionState(now);
    if (!(fresh == mirror_)) {
      mirror_ = std::move(fresh);
      dirty_ = true;
    }
    return;
  }
  const auto apply = [this](auto& map, const std::string& key, auto entry) {
    auto it = map.find(key);
    if (!entry) {
      if (it != map.end()) {
        map.erase(it);
        dirty_ = true;
      }
    } else if (it == map.end()) {
      map.emplace(key, std::move(*entry));
      dirty_ = true;
    } else if (!(it->second == *entry)) {
      it->second = std::move(*entry);
      dirty_ = true;
    }
  };
  for (const auto& unit : changes.units)
    apply(mirror_.workers, unit, engine.persistedWorker(unit, now));
  for (const auto& path : changes.supervisors)
    apply(mirror_.supervisors, path, engine.persistedSupervisor(path, now));
  if (engine.scaled() != mirror_.scale) {
    mirror_.scale = engine.scaled();
    dirty_ = true;
  }
}

util::Result<void> SupervisionStore::write(std::string_view config_digest,
                                           std::string_view boot_id,
                                           const status::Clocks& clocks) {
  if (dir_.empty() || !dirty_) return {};
  auto done = writeFileAtomically(statePath(),
                                  encodeSupervisionState(mirror_, config_digest, boot_id, clocks));
  if (done) dirty_ = false;
  return done;
}

util::Result<void> SupervisionStore::saveLastGood(const ConfigCopy& copy) {
  if (dir_.empty()) return {};
  const std::string digest = copy.digest();
  if (last_good_digest_.empty()) {
    if (auto old = loadLastGood()) last_good_digest_ = old->digest();
  }
  if (digest == last_good_digest_) return {};
  auto done = writeFileAtomically(lastGoodPath(), encodeLastGood(copy));
  if (done) last_good_digest_ = digest;
  return done;
}

util::Result<ConfigCopy> SupervisionStore::loadLastGood() const {
  if (dir_.empty()) return util::fail("no state directory");
  auto text = readWhole(lastGoodPath(), 4 * (config::LoadOptions{}.max_file_bytes) + 4096);
  if (!text)
    return util::fail(fmt::format("{}: {}", lastGoodPath().string(), text.error().message()));
  auto copy = decodeLastGood(*text);
  if (!copy)
    return util::fail(fmt::format("{}: {}", lastGoodPath().string(), copy.error().message()));
  return copy;
}

std::string currentBootId() {
  sd_id128_t id;
  if (sd_id128_get_boot(&id) < 0) return "";
  char text[SD_ID128_STRING_MAX];
  return sd_id128_to_string(id, text);
}

}  // namespace vigil::daemon
