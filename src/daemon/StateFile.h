#pragma once
#include <filesystem>
#include <string_view>

#include "util/Result.h"

namespace vigil::daemon {

// Replaces `path` with `content` atomically: write a temporary file in the same
// directory, fsync it, rename it over `path`. On failure the previous file is intact.
util::Result<void> writeFileAtomically(const std::filesystem::path& path, std::string_view content);

}  // namespace vigil::daemon
