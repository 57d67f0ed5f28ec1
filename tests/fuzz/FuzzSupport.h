#pragma once
// Shared by the libFuzzer targets (tests/fuzz/*.cpp; built with -DVIGIL_FUZZ=ON and clang,
// run by scripts/fuzz). A target must never crash, hang, leak or trip a sanitizer, whatever
// its input; the properties it checks on top abort through check().

#include <cstdio>
#include <cstdlib>
#include <string>

namespace vigil::fuzz {

// Aborts (a finding) with `what` when `ok` is false.
inline void check(bool ok, const char* what, const std::string& detail = "") {
  if (ok) return;
  std::fprintf(stderr, "property violated: %s %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace vigil::fuzz
