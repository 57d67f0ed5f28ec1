#pragma once
// Loads /etc/vigil/vigil.yaml overlaid on a tier file into a validated core::Config.
// The format is documented for users in vigil.yaml(5) (man/vigil.yaml.5); keep both in sync.
//
// Effective worker values are layered: built-in defaults (core/Spec.h) < the tier file's
// `defaults` < the config's `defaults` < the worker's own keys. Nested mappings (limits,
// backoff, stop, intensity) merge key by key at every layer. A supervisor's own `limits`
// budget its slice only and are not inherited by its workers.
//
// Every duration is finite and at most 1y, so that arithmetic on timeouts and delays
// downstream cannot overflow; sizes may be "infinity" (core::kUnlimited).
//
// All errors are collected (not just the first), sorted by file and position, and returned
// together; a Config is returned only when there are none. Untrusted input is bounded: the
// file size is checked before parsing, YAML is read by a hardened reader (config/YamlNode.h)
// with a node budget and a depth cap, anchors/aliases and duplicate keys are rejected.
//
// Warnings (implausible but possible values, and what a host check could not settle) do
// not reject the file; they are handed back separately.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "config/ConfigError.h"
#include "core/Spec.h"

namespace vigil::config {

inline constexpr std::string_view kDefaultTier = "tier_3";

// Structural caps, enforced with errors (also documented in vigil.yaml(5)).
inline constexpr std::size_t kMaxNameBytes = 64;  // tree and child names
inline constexpr std::size_t kMaxTrees = 64;
inline constexpr std::size_t kMaxSupervisorDepth = 8;  // a tree's root supervisor is level 1
inline constexpr std::size_t kMaxWorkers = 4096;       // in total, counting instances

// Below this memory_max no program starts at all: measured on Debian 12 (systemd 252,
// Linux 6.1, cgroup v2) with `systemd-run -p MemoryMax=N`: /bin/true, /bin/sh -c true and
// /bin/sleep fail at 128K and start at 192K. An error.
inline constexpr std::uint64_t kMinMemoryBytes = 192 << 10;
// Below this a memory_max or memory_high is implausible for a service (a shell alone needs
// about 1M, python3 about 10M). A warning.
inline constexpr std::uint64_t kPlausibleMemoryBytes = 2 << 20;
// RLIMIT_NOFILE: stdin, stdout and stderr alone need 3 descriptors (an error below); fewer
// than 64 is a warning; the kernel never accepts more than 2^30 - 8 (fs.nr_open's maximum,
// sysctl_nr_open_max in fs/file.c for 64-bit).
inline constexpr std::uint64_t kMinOpenFiles = 3;
inline constexpr std::uint64_t kPlausibleOpenFiles = 64;
inline constexpr std::uint64_t kMaxOpenFiles = (1u << 30) - 8;

// What to do with facts about the host (does the user exist, is the working directory
// there, is the command executable): check-config makes them errors, vigild warnings
// (a host can change between a check and a start; vigild must not refuse to supervise
// everything because one user was removed), a build host skips them.
enum class HostChecks { Off, Warn, Error };

// A file the loader read, as it read it: what vigild keeps as the last good copy.
struct SourceText {
  std::string path;  // as given (the configuration) or found (the tier file)
  std::string text;
};

struct LoadOptions {
  // Where "<tier>.yaml" is looked up, first match wins; see defaultTierDirs().
  std::vector<std::filesystem::path> tier_dirs;
  // From $VIGIL_TIER (the caller reads the environment); wins over the file's `tier` key.
  std::optional<std::string> tier_override;
  std::size_t max_file_bytes = 1 << 20;  // per file, checked before parsing
  std::size_t max_nodes = 100000;        // YAML nodes per file
  std::size_t max_depth = 64;            // YAML nesting per file
  HostChecks host_checks = HostChecks::Off;
  // Tier files by name ("tier_3.yaml"), used instead of looking in tier_dirs: a last good
  // copy is loaded with the tier text saved with it.
  std::map<std::string, std::string> tier_texts;
  // When set, receives the configuration's text and then the tier file's, as read (also
  // when the configuration is rejected).
  std::vector<SourceText>* sources = nullptr;
};

// Where the tiers of `config_file` are looked up unless --tier-dir says otherwise, in
// order, each once: the "tiers" directory next to the file (config/tiers in a source
// checkout), then this build's <sysconfdir>/vigil/tiers (/etc/vigil/tiers: the package
// installs the tier files there, as conffiles), then <datadir>/vigil/tiers
// (/usr/share/vigil/tiers; empty in the package, kept for installs that put them there).
std::vector<std::filesystem::path> defaultTierDirs(const std::filesystem::path& config_file);

// Reads and validates `file`. Error locations name the file as given here. Warnings go
// to `warnings` when given (also when the file is rejected).
tl::expected<core::Config, ConfigErrors> loadConfig(const std::filesystem::path& file,
                                                    const LoadOptions& options,
                                                    ConfigErrors* warnings = nullptr);

// The same for text already in memory; `file_name` is used in locations and as
// Config::source_file. Tier files are still read from options.tier_dirs.
tl::expected<core::Config, ConfigErrors> loadConfigFromString(std::string_view yaml,
                                                              std::string_view file_name,
                                                              const LoadOptions& options,
                                                              ConfigErrors* warnings = nullptr);

// The rule for tree and child names (see NAMING in vigil.yaml(5)): identifiers of 1..64
// ASCII letters, digits and '_'. Such names are their own unit-name escape, so unit and
// slice names stay readable, and no name can end in a unit suffix (".service"). Returns
// why `name` is invalid, with a suggestion, or nullopt.
std::optional<std::string> checkName(std::string_view name);

}  // namespace vigil::config
