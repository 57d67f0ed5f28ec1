#pragma once
// vigild's persisted state under StateDirectory= (/var/lib/vigil): the supervision state
// (core::SupervisionState: counters, backoff deadlines, intensity windows, operator stops,
// live set/scale) in supervision.json, and the last configuration vigild applied in
// last-good.json. Both are written atomically (write, fsync, rename: AtomicFileWriter) and
// are caches of what matters only to vigild: a file that is missing, damaged, from another
// boot or from an unknown version is reported, set aside, and supervision is rebuilt from
// systemd's view alone (adoption), as before persistence existed.
//
// File formats (JSON; docs/RELIABILITY.md):
//   supervision.json: {"format": "vigil-supervision-state", "version": 1, "boot_id",
//     "written_realtime_usec", "config_digest", "workers": {unit: {...}},
//     "supervisors": {path: {...}}, "scale": {worker path: count}}
//   last-good.json: {"format": "vigil-last-good-config", "version": 1,
//     "saved_realtime_usec", "digest", "config_file", "config", "tier_file", "tier"}
// Times are wall-clock microseconds (CLOCK_REALTIME) in the files and monotonic in the
// engine; Clocks converts. The supervision state is for this boot only (boot_id): after
// a reboot no unit of the previous boot runs, and an operator's stop, like systemctl
// stop, does not outlive a reboot.

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/ConfigLoader.h"
#include "core/Engine.h"
#include "core/SupervisionState.h"
#include "status/Compose.h"
#include "util/Result.h"

namespace vigil::daemon {

inline constexpr int kSupervisionStateVersion = 1;
inline constexpr int kLastGoodVersion = 1;
// Bounds on what a state file may claim (a damaged or hostile file is rejected, not
// believed): more entries than the configuration caps allow, counters beyond these.
inline constexpr std::size_t kMaxPersistedEntries = 2 * config::kMaxWorkers;
inline constexpr unsigned kMaxPersistedCount = 1000000;
inline constexpr std::size_t kMaxStateFileBytes = 16 << 20;

// The state as text, for supervision.json.
std::string encodeSupervisionState(const core::SupervisionState& state,
                                   std::string_view config_digest,
                                   std::string_view boot_id,
                                   const status::Clocks& clocks);

struct DecodedState {
  core::SupervisionState state;
  std::string config_digest;
};
// Reads supervision.json's text. Fails, saying why, when the text is not such a document
// (not JSON, another format, a field of the wrong type or out of range), has another
// version, or another boot_id ("written during an earlier boot").
util::Result<DecodedState> decodeSupervisionState(std::string_view text,
                                                  std::string_view boot_id,
                                                  const status::Clocks& clocks);

// A configuration and its tier file, as loaded (config::LoadOptions::sources).
struct ConfigCopy {
  std::string config_file;  // where it was read: /etc/vigil/vigil.yaml
  std::string config;       // its text
  std::string tier_file;    // "tier_3.yaml" ("" : none)
  std::string tier;         // its text
  std::int64_t saved_realtime_usec = 0;
  // core::Digest of the four fields: equal digests, equal copies.
  std::string digest() const;
};
// The copy of what `sources` holds (the configuration first, then its tier file).
ConfigCopy copyOf(const std::vector<config::SourceText>& sources);
std::string encodeLastGood(const ConfigCopy& copy);
util::Result<ConfigCopy> decodeLastGood(std::string_view text);

// The files, and an incremental mirror of the engine's persisted entries: update() costs
// O(changes) (O(fleet) only when the engine says everything changed), and a write is
// O(persisted entries), which is zero for a fleet that never failed.
class SupervisionStore {
 public:
  // `dir` "": persistence is off (load finds nothing, write does nothing).
  explicit SupervisionStore(std::filesystem::path dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path statePath() const { return dir_ / "supervision.json"; }
  std::filesystem::path lastGoodPath() const { return dir_ / "last-good.json"; }

  struct Loaded {
    std::optional<DecodedState> state;  // none: start from systemd's view alone
    std::string note;                   // for the journal: what was found ("" : nothing)
    bool warning = false;               // the note reports a problem (damaged, unreadable)
  };
  // Reads supervision.json. A file that cannot be used is renamed to
  // supervision.json.bad (the last one kept, for a post-mortem) and reported.
  Loaded load(std::string_view boot_id, const status::Clocks& clocks) const;

  // Follows the engine after `changes` (Engine::takeChanged).
  void update(const core::Engine& engine,
              const core::Engine::Changes& changes,
              core::TimePoint now);
  // Something changed since the last successful write.
  bool dirty() const { return dirty_; }
  // The next write() writes even if nothing changed (after start: the file then describes
  // this boot and this vigild, not what was loaded).
  void markDirty() { dirty_ = true; }
  // Writes supervision.json (when dirty). On failure the previous file is intact, the
  // store stays dirty (the caller retries), and the error names the file.
  util::Result<void> write(std::string_view config_digest,
                           std::string_view boot_id,
                           const status::Clocks& clocks);
  // The entries as they would be written (tests).
  const core::SupervisionState& mirror() const { return mirror_; }

  // last-good.json: the last configuration applied. save() writes only when `copy`
  // differs from what is there (by digest).
  util::Result<void> saveLastGood(const ConfigCopy& copy);
  util::Result<ConfigCopy> loadLastGood() const;

 private:
  std::filesystem::path dir_;
  core::SupervisionState mirror_;
  bool dirty_ = false;
  std::string last_good_digest_;  // of the copy on disk, once known
};

// This boot's ID (/proc/sys/kernel/random/boot_id, via sd_id128_get_boot), "" if unknown.
std::string currentBootId();

}  // namespace vigil::daemon
