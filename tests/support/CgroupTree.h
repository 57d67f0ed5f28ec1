#pragma once
// A fake cgroupfs tree in a fresh temporary directory, removed with everything in it when the
// CgroupTree is destroyed. For tests of code that takes a cgroup root path:
//
//   CgroupTree tree;
//   tree.file("vigil.slice/vigil-web.slice/vigil-web-api.service/memory.max", "max\n");
//   CgroupReader reader(tree.root());
//
// Setup failures throw std::runtime_error, which Boost.Test reports as a failed test case.

#include <filesystem>
#include <string_view>

namespace vigil::testing {

class CgroupTree {
 public:
  CgroupTree();
  ~CgroupTree();
  CgroupTree(const CgroupTree&) = delete;
  CgroupTree& operator=(const CgroupTree&) = delete;

  const std::filesystem::path& root() const { return root_; }

  // Paths are relative to root(); a leading '/' is ignored so a unit's ControlGroup can be
  // used as is. ".." is refused so a test cannot write outside the tree.

  // Writes `content` exactly (no newline added), creating parent directories.
  void file(std::string_view relative, std::string_view content);
  // Creates a directory and its parents.
  void dir(std::string_view relative);
  // Removes a file or a whole directory, e.g. to simulate a stopped unit.
  void remove(std::string_view relative);
  // Copies the contents of `source` (a fixture scenario directory) into root(), over what
  // is there.
  void copyFrom(const std::filesystem::path& source);

  std::filesystem::path path(std::string_view relative) const;

 private:
  std::filesystem::path root_;
};

}  // namespace vigil::testing
