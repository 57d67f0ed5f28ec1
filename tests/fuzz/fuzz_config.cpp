// The configuration loader (config/ConfigLoader.h) on arbitrary bytes: rejected with
// errors that name a place in the file, or accepted as a Config whose every worker yields
// a unit spec; never a crash, whatever the bytes (the hostile corpus and every fixture
// are its seeds).

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "FuzzSupport.h"
#include "config/ConfigLoader.h"
#include "core/ReloadPlan.h"
#include "core/UnitSpec.h"

using namespace vigil;

namespace {

config::LoadOptions options() {
  config::LoadOptions o;
  // The tier files in memory: no file system access per input.
  for (const char* tier : {"tier_1", "tier_2", "tier_3"}) {
    std::ifstream in(std::string(VIGIL_SOURCE_DIR) + "/config/tiers/" + tier + ".yaml");
    std::stringstream ss;
    ss << in.rdbuf();
    o.tier_texts[std::string(tier) + ".yaml"] = ss.str();
  }
  return o;
}

void walk(const core::SupervisorSpec& sup, const core::SupervisorPath& path) {
  for (const auto& c : sup.children) {
    if (c.worker) {
      for (unsigned i = c.worker->instance_names ? 1 : 0;
           i <= (c.worker->instance_names ? c.worker->instances : 0); ++i) {
        const core::UnitSpec spec = core::buildUnitSpec(*c.worker, path, i);
        fuzz::check(!spec.name.empty() && !spec.argv.empty(), "a unit spec without a name");
      }
    } else if (c.supervisor) {
      core::SupervisorPath sub = path;
      sub.push_back(c.supervisor->name);
      walk(*c.supervisor, sub);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const config::LoadOptions kOptions = options();
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto loaded = config::loadConfigFromString(text, "fuzz.yaml", kOptions);
  if (!loaded) {
    fuzz::check(!loaded.error().empty(), "rejected without an error");
    for (const auto& e : loaded.error())
      fuzz::check(!e.format().empty() && !e.message.empty(), "an error without text");
    return 0;
  }
  for (const auto& tree : loaded->trees) walk(tree, {tree.name});
  // A reload from nothing to it, and back, plans without trouble.
  (void)core::planReload(core::Config{}, *loaded, {}, {});
  (void)core::planReload(*loaded, core::Config{}, {}, {});
  return 0;
}
