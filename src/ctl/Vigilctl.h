#pragma once
// vigilctl: the command line of vigil, a client of vigild's D-Bus API (vigilctl(1)).

namespace vigil::ctl {

// Exit codes (vigilctl(1), EXIT STATUS).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;       // the operation failed, or the config is invalid
inline constexpr int kExitUsage = 2;        // bad command line or arguments
inline constexpr int kExitUnreachable = 3;  // vigild is not running or cannot be reached
inline constexpr int kExitUnknownTarget = 4;
inline constexpr int kExitDenied = 5;  // not root and not in group vigil

int run(int argc, char** argv);

}  // namespace vigil::ctl
