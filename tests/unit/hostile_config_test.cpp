// The hostile configuration corpus (tests/fixtures/hostile/*.yaml, also fed to a running
// vigild by VM test 69-fault-hostile-config): every file is rejected, with exactly the
// errors in its .expected file (VIGIL_UPDATE_GOLDEN=1 rewrites them), and inputs too
// large to keep in the repository (generated here) are rejected by the caps before any
// parsing cost grows with them.

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/ConfigLoader.h"

using namespace vigil;
namespace fs = std::filesystem;

namespace {

const fs::path kHostile = fs::path(VIGIL_FIXTURES_DIR) / "hostile";

std::string readBytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

config::LoadOptions options() {
  config::LoadOptions o;
  o.tier_dirs = {fs::path(VIGIL_FIXTURES_DIR) / ".." / ".." / "config" / "tiers"};
  return o;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_hostile_file_is_rejected_with_its_exact_errors) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(kHostile))
    if (e.path().extension() == ".yaml") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  BOOST_TEST_REQUIRE(files.size() >= 25u);
  for (const auto& file : files) {
    const std::string name = file.filename().string();
    auto loaded = config::loadConfigFromString(readBytes(file), name, options());
    BOOST_TEST(!loaded.has_value(), name << " was accepted");
    if (loaded) continue;
    const std::string actual = config::formatErrors(loaded.error());
    const fs::path golden = file.string() + ".expected";
    if (std::getenv("VIGIL_UPDATE_GOLDEN")) std::ofstream(golden) << actual;
    BOOST_TEST(actual == readBytes(golden), name);
  }
}

BOOST_AUTO_TEST_CASE(oversized_inputs_are_refused_by_the_caps) {
  const fs::path dir =
      fs::temp_directory_path() /
      ("vigil-hostile-" +
       std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
  fs::create_directories(dir);
  // 2 MiB: refused by size before it is read.
  {
    std::ofstream(dir / "big.yaml") << "trees: {}\n# " << std::string(2 << 20, 'x') << "\n";
    auto r = config::loadConfig(dir / "big.yaml", options());
    BOOST_REQUIRE(!r);
    BOOST_TEST(config::formatErrors(r.error()).find("bytes; the limit is 1048576 bytes") !=
               std::string::npos);
  }
  // 200,000 nodes in under 1 MiB: refused by the node budget.
  {
    std::string text = "trees: [";
    for (int i = 0; i < 200000; ++i) text += "1,";
    text += "1]\n";
    const auto t0 = std::chrono::steady_clock::now();
    auto r = config::loadConfigFromString(text, "nodes.yaml", options());
    BOOST_REQUIRE(!r);
    BOOST_TEST(config::formatErrors(r.error()).find("nodes") != std::string::npos,
               config::formatErrors(r.error()));
    BOOST_TEST((std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5)));
  }
  // 65 trees: more than the cap.
  {
    std::string text = "tier: tier_2\ntrees:\n";
    for (int i = 0; i < 65; ++i)
      text +=
          "  t" + std::to_string(i) + ":\n    children:\n      - {name: w, command: [/bin/true]}\n";
    auto r = config::loadConfigFromString(text, "trees.yaml", options());
    BOOST_REQUIRE(!r);
    BOOST_TEST(config::formatErrors(r.error()).find("64") != std::string::npos,
               config::formatErrors(r.error()));
  }
  fs::remove_all(dir);
}
