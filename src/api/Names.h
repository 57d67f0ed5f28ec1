#pragma once
// vigild's D-Bus names (docs/DBUS-API.md). Fixed: clients, the policy file and the
// introspection XML use exactly these.

namespace vigil::api {

inline constexpr const char* kBusName = "org.vigil.Vigil1";
inline constexpr const char* kObjectPath = "/org/vigil/Vigil1";
inline constexpr const char* kManagerInterface = "org.vigil.Vigil1.Manager";

// Errors, besides org.freedesktop.DBus.Error.AccessDenied and .InvalidArgs (a malformed
// call). The engine's are core::kErrorUnknownTarget, kErrorInvalidArgument,
// kErrorNotPossible; api::kErrorInvalidConfig is Reload's.
inline constexpr const char* kErrorAccessDenied = "org.freedesktop.DBus.Error.AccessDenied";

// The system group whose members may call the mutating methods (root always may).
inline constexpr const char* kManageGroup = "vigil";

}  // namespace vigil::api
