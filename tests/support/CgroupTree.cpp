#include "support/CgroupTree.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <string>
#include <system_error>

namespace vigil::testing {

CgroupTree::CgroupTree() {
  std::string pattern = (std::filesystem::temp_directory_path() / "vigil-cgroup-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  }
  root_ = pattern;
}

CgroupTree::~CgroupTree() {
  std::error_code ec;  // a destructor must not throw; a leftover temp dir is harmless
  std::filesystem::remove_all(root_, ec);
}

std::filesystem::path CgroupTree::path(std::string_view relative) const {
  while (relative.starts_with('/')) relative.remove_prefix(1);
  const std::filesystem::path rel(relative);
  for (const auto& part : rel) {
    if (part == "..") throw std::invalid_argument("CgroupTree: '..' in " + std::string(relative));
  }
  return root_ / rel;
}

void CgroupTree::file(std::string_view relative, std::string_view content) {
  const auto p = path(relative);
  std::filesystem::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) throw std::runtime_error("CgroupTree: cannot write " + p.string());
}

void CgroupTree::dir(std::string_view relative) {
  std::filesystem::create_directories(path(relative));
}

void CgroupTree::remove(std::string_view relative) {
  std::filesystem::remove_all(path(relative));
}

void CgroupTree::copyFrom(const std::filesystem::path& source) {
  // Merges into what is there (a second fixture, or a fixture copied back after remove()).
  std::filesystem::copy(
      source, root_,
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
}

}  // namespace vigil::testing
