#include "api/ApiServer.h"

#include <grp.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "api/Codec.h"
#include "api/Names.h"
#include "config/LimitSettings.h"
#include "systemd/BusImpl.h"

namespace vigil::api {

using systemd::BusError;
using systemd::CredsPtr;
using systemd::MsgPtr;
using systemd::SlotPtr;

struct ApiServer::Impl {
  systemd::Bus::Impl* bus = nullptr;
  systemd::Bus* owner = nullptr;
  std::size_t reconnect_hook = 0;
  Backend* backend = nullptr;
  AccessPolicy policy;
  SlotPtr object;
  systemd::SourcePtr retry;  // the next RequestName, after a refusal
  unsigned name_failures = 0;

  // Checks that the sender may change things; on refusal sets `error` and returns the
  // sd-bus error code. `caller` receives "uid N" for events.
  int authorize(sd_bus_message* m, std::string& caller, sd_bus_error* error);
  std::optional<gid_t> manageGid();
};

namespace {

ApiServer::Impl* implOf(void* ud) {
  return static_cast<ApiServer::Impl*>(ud);
}

int replyError(sd_bus_message* m, const core::CommandError& e) {
  return sd_bus_reply_method_errorf(m, e.name.c_str(), "%s", e.message.c_str());
}

// Mutating command with a single target argument.
int command(sd_bus_message* m, void* ud, sd_bus_error* error, core::Command::Kind kind) {
  auto* self = implOf(ud);
  core::Command cmd;
  cmd.kind = kind;
  const char* target = nullptr;
  int r = sd_bus_message_read(m, "s", &target);
  if (r < 0) return r;
  cmd.target = target;
  if (kind == core::Command::Kind::Kill) {
    int32_t sig = 0;
    int main_only = 0;
    r = sd_bus_message_read(m, "ib", &sig, &main_only);
    if (r < 0) return r;
    cmd.signal = sig;
    cmd.main_only = main_only != 0;
  } else if (kind == core::Command::Kind::Scale) {
    uint32_t n = 0;
    r = sd_bus_message_read(m, "u", &n);
    if (r < 0) return r;
    cmd.instances = n;
  } else if (kind == core::Command::Kind::SetLimits) {
    std::vector<std::pair<std::string, std::string>> settings;
    r = sd_bus_message_enter_container(m, 'a', "(ss)");
    if (r < 0) return r;
    const char *k = nullptr, *v = nullptr;
    while ((r = sd_bus_message_read(m, "(ss)", &k, &v)) > 0) settings.emplace_back(k, v);
    if (r < 0) return r;
    r = sd_bus_message_exit_container(m);
    if (r < 0) return r;
    auto limits = config::parseLimitSettings(settings);
    if (!limits)
      return replyError(m, core::CommandError{core::kErrorInvalidArgument, limits.error()});
    cmd.limits = *limits;
  }
  r = self->authorize(m, cmd.caller, error);
  if (r < 0) return r;
  auto accepted = self->backend->command(cmd);
  if (!accepted) return replyError(m, accepted.error());
  return sd_bus_reply_method_return(m, "ts", accepted->operation, accepted->message.c_str());
}

int onStart(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::Start);
}
int onStop(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::Stop);
}
int onRestart(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::Restart);
}
int onRestartRolling(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::RollingRestart);
}
int onReset(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::Reset);
}
int onKill(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::Kill);
}
int onFreeze(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::Freeze);
}
int onThaw(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::Thaw);
}
int onSetLimits(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::SetLimits);
}
int onScale(sd_bus_message* m, void* ud, sd_bus_error* e) {
  return command(m, ud, e, core::Command::Kind::Scale);
}

int onReload(sd_bus_message* m, void* ud, sd_bus_error* error) {
  auto* self = implOf(ud);
  int dry_run = 0;
  int r = sd_bus_message_read(m, "b", &dry_run);
  if (r < 0) return r;
  std::string caller;
  if (!dry_run) {
    r = self->authorize(m, caller, error);
    if (r < 0) return r;
  }
  auto answer = self->backend->reload(dry_run != 0, caller);
  if (!answer) return replyError(m, answer.error());
  sd_bus_message* raw = nullptr;
  r = sd_bus_message_new_method_return(m, &raw);
  if (r < 0) return r;
  MsgPtr reply(raw);
  const int applied = answer->applied ? 1 : 0;
  r = sd_bus_message_append_basic(reply.get(), 'b', &applied);
  if (r >= 0) r = codec::appendValue(reply.get(), answer->plan);
  if (r >= 0) r = codec::appendValue(reply.get(), answer->warnings);
  if (r >= 0) r = sd_bus_message_append_basic(reply.get(), 'u', &answer->generation);
  if (r < 0) return r;
  return sd_bus_send(nullptr, reply.get(), nullptr);
}

int onGetInfo(sd_bus_message* m, void* ud, sd_bus_error*) {
  auto* self = implOf(ud);
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_return(m, &raw);
  if (r < 0) return r;
  MsgPtr reply(raw);
  r = codec::appendDict(reply.get(), self->backend->info());
  if (r < 0) return r;
  return sd_bus_send(nullptr, reply.get(), nullptr);
}

enum class StatusPart { All, Supervisors, Workers };

int status(sd_bus_message* m, void* ud, StatusPart part) {
  auto* self = implOf(ud);
  const char* target = nullptr;
  int r = sd_bus_message_read(m, "s", &target);
  if (r < 0) return r;
  // Answered later: the backend samples cgroup figures on the loop first.
  sd_bus_message_ref(m);
  self->backend->status(target, [m, part](auto result) {
    MsgPtr call(m);
    if (!result) {
      replyError(call.get(), result.error());
      return;
    }
    const status::StatusSnapshot& snap = **result;
    sd_bus_message* raw = nullptr;
    int rr = sd_bus_message_new_method_return(call.get(), &raw);
    if (rr < 0) return;
    MsgPtr reply(raw);
    if (part == StatusPart::All) rr = codec::appendDict(reply.get(), snap.vigild);
    if (rr >= 0 && part != StatusPart::Workers)
      rr = codec::appendList(reply.get(), snap.supervisors);
    if (rr >= 0 && part != StatusPart::Supervisors)
      rr = codec::appendList(reply.get(), snap.workers);
    if (rr >= 0) rr = sd_bus_message_append_basic(reply.get(), 'x', &snap.taken_realtime_usec);
    if (rr < 0) {
      sd_bus_reply_method_errorf(call.get(), SD_BUS_ERROR_FAILED, "encoding the status: %s",
                                 strerror(-rr));
      return;
    }
    sd_bus_send(nullptr, reply.get(), nullptr);
  });
  return 1;
}

int onGetStatus(sd_bus_message* m, void* ud, sd_bus_error*) {
  return status(m, ud, StatusPart::All);
}
int onListSupervisors(sd_bus_message* m, void* ud, sd_bus_error*) {
  return status(m, ud, StatusPart::Supervisors);
}
int onListWorkers(sd_bus_message* m, void* ud, sd_bus_error*) {
  return status(m, ud, StatusPart::Workers);
}

int onListEvents(sd_bus_message* m, void* ud, sd_bus_error*) {
  auto* self = implOf(ud);
  uint32_t max = 0;
  int r = sd_bus_message_read(m, "u", &max);
  if (r < 0) return r;
  sd_bus_message* raw = nullptr;
  r = sd_bus_message_new_method_return(m, &raw);
  if (r < 0) return r;
  MsgPtr reply(raw);
  r = codec::appendList(reply.get(), self->backend->recentEvents(max));
  if (r < 0) return r;
  return sd_bus_send(nullptr, reply.get(), nullptr);
}

int onGetHistory(sd_bus_message* m, void* ud, sd_bus_error*) {
  auto* self = implOf(ud);
  const char* target = nullptr;
  std::uint64_t range_usec = 0;
  std::uint32_t points = 0;
  int r = sd_bus_message_read(m, "stu", &target, &range_usec, &points);
  if (r < 0) return r;
  if (range_usec == 0 || range_usec > static_cast<std::uint64_t>(INT64_MAX))
    return replyError(m, core::CommandError{core::kErrorInvalidArgument,
                                            "range_usec must be a positive duration"});
  auto result =
      self->backend->history(target, core::Usec(static_cast<std::int64_t>(range_usec)), points);
  if (!result) return replyError(m, result.error());
  sd_bus_message* raw = nullptr;
  r = sd_bus_message_new_method_return(m, &raw);
  if (r < 0) return r;
  MsgPtr reply(raw);
  r = codec::appendList(reply.get(), *result);
  if (r < 0) return r;
  return sd_bus_send(nullptr, reply.get(), nullptr);
}

int onListTargets(sd_bus_message* m, void* ud, sd_bus_error*) {
  auto* self = implOf(ud);
  sd_bus_message* raw = nullptr;
  int r = sd_bus_message_new_method_return(m, &raw);
  if (r < 0) return r;
  MsgPtr reply(raw);
  r = codec::appendValue(reply.get(), self->backend->targets());
  if (r < 0) return r;
  return sd_bus_send(nullptr, reply.get(), nullptr);
}

// Every method is SD_BUS_VTABLE_UNPRIVILEGED: sd-bus's own check (CAP_SYS_ADMIN or the
// same uid as vigild) would refuse group members; ApiServer::Impl::authorize decides.
constexpr auto kOpen = SD_BUS_VTABLE_UNPRIVILEGED;

const sd_bus_vtable kVtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS(
        "GetInfo", SD_BUS_NO_ARGS, SD_BUS_RESULT("a{sv}", info), onGetInfo, kOpen),
    SD_BUS_METHOD_WITH_ARGS(
        "GetStatus",
        SD_BUS_ARGS("s", target),
        SD_BUS_RESULT(
            "a{sv}", vigild, "aa{sv}", supervisors, "aa{sv}", workers, "x", taken_realtime_usec),
        onGetStatus,
        kOpen),
    SD_BUS_METHOD_WITH_ARGS("ListSupervisors",
                            SD_BUS_ARGS("s", target),
                            SD_BUS_RESULT("aa{sv}", supervisors, "x", taken_realtime_usec),
                            onListSupervisors,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("ListWorkers",
                            SD_BUS_ARGS("s", target),
                            SD_BUS_RESULT("aa{sv}", workers, "x", taken_realtime_usec),
                            onListWorkers,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS(
        "ListEvents", SD_BUS_ARGS("u", max), SD_BUS_RESULT("aa{sv}", events), onListEvents, kOpen),
    SD_BUS_METHOD_WITH_ARGS("GetHistory",
                            SD_BUS_ARGS("s", target, "t", range_usec, "u", points),
                            SD_BUS_RESULT("aa{sv}", histories),
                            onGetHistory,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS(
        "ListTargets", SD_BUS_NO_ARGS, SD_BUS_RESULT("as", targets), onListTargets, kOpen),
    SD_BUS_METHOD_WITH_ARGS("Start",
                            SD_BUS_ARGS("s", target),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onStart,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("Stop",
                            SD_BUS_ARGS("s", target),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onStop,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("Restart",
                            SD_BUS_ARGS("s", target),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onRestart,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("RestartRolling",
                            SD_BUS_ARGS("s", target),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onRestartRolling,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("Reset",
                            SD_BUS_ARGS("s", target),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onReset,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("Kill",
                            SD_BUS_ARGS("s", target, "i", signal, "b", main_only),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onKill,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("Freeze",
                            SD_BUS_ARGS("s", target),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onFreeze,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("Thaw",
                            SD_BUS_ARGS("s", target),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onThaw,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("SetLimits",
                            SD_BUS_ARGS("s", target, "a(ss)", settings),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onSetLimits,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS("Scale",
                            SD_BUS_ARGS("s", target, "u", instances),
                            SD_BUS_RESULT("t", operation, "s", message),
                            onScale,
                            kOpen),
    SD_BUS_METHOD_WITH_ARGS(
        "Reload",
        SD_BUS_ARGS("b", dry_run),
        SD_BUS_RESULT("b", applied, "as", plan, "as", warnings, "u", config_generation),
        onReload,
        kOpen),
    SD_BUS_SIGNAL_WITH_ARGS("Event", SD_BUS_ARGS("a{sv}", event), 0),
    SD_BUS_SIGNAL_WITH_ARGS(
        "OperationFinished", SD_BUS_ARGS("t", operation, "b", ok, "s", message), 0),
    SD_BUS_VTABLE_END};

}  // namespace

std::optional<gid_t> ApiServer::Impl::manageGid() {
  if (policy.manage_gid) return policy.manage_gid;
  // getgrnam_r: /etc/group on the hosts vigil targets; cached once found.
  struct group gr {};
  struct group* found = nullptr;
  std::vector<char> buf(16384);
  if (getgrnam_r(policy.manage_group.c_str(), &gr, buf.data(), buf.size(), &found) == 0 && found)
    policy.manage_gid = found->gr_gid;
  return policy.manage_gid;
}

int ApiServer::Impl::authorize(sd_bus_message* m, std::string& caller, sd_bus_error* error) {
  sd_bus_creds* raw = nullptr;
  int r = sd_bus_query_sender_creds(m,
                                    SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID | SD_BUS_CREDS_GID |
                                        SD_BUS_CREDS_EGID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS |
                                        SD_BUS_CREDS_PID | SD_BUS_CREDS_AUGMENT,
                                    &raw);
  CredsPtr creds(raw);
  if (r < 0)
    return sd_bus_error_setf(error, kErrorAccessDenied, "cannot tell who is calling: %s",
                             strerror(-r));
  uid_t uid = 0;
  if (sd_bus_creds_get_euid(creds.get(), &uid) < 0 && sd_bus_creds_get_uid(creds.get(), &uid) < 0)
    return sd_bus_error_setf(error, kErrorAccessDenied, "cannot tell who is calling");
  caller = fmt::format("uid {}", uid);
  if (uid == 0) return 0;
  const auto gid = manageGid();
  if (gid) {
    gid_t g = 0;
    if ((sd_bus_creds_get_egid(creds.get(), &g) >= 0 ||
         sd_bus_creds_get_gid(creds.get(), &g) >= 0) &&
        g == *gid)
      return 0;
    const gid_t* gids = nullptr;
    const int n = sd_bus_creds_get_supplementary_gids(creds.get(), &gids);
    for (int i = 0; i < n; ++i)
      if (gids[i] == *gid) return 0;
  }
  return sd_bus_error_setf(error, kErrorAccessDenied,
                           "uid %u may not change vigil: only root and members of group '%s' may",
                           static_cast<unsigned>(uid), policy.manage_group.c_str());
}

ApiServer::ApiServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ApiServer::~ApiServer() {
  if (impl_->backend) impl_->backend->setListener(nullptr);
  if (impl_->owner) impl_->owner->dropReconnectHook(impl_->reconnect_hook);
}

util::Result<std::unique_ptr<ApiServer>> ApiServer::create(systemd::Bus& bus,
                                                           Backend& backend,
                                                           AccessPolicy policy) {
  auto impl = std::make_unique<Impl>();
  impl->bus = &bus.impl();
  impl->backend = &backend;
  impl->policy = std::move(policy);
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_add_object_vtable(impl->bus->raw(), &slot, kObjectPath, kManagerInterface, kVtable,
                                   impl.get());
  if (r < 0) return util::sysFail(-r, fmt::format("registering {} on the bus", kObjectPath));
  impl->object.reset(slot);
  std::unique_ptr<ApiServer> server(new ApiServer(std::move(impl)));
  backend.setListener(server.get());
  // A new connection (dbus-daemon restarted): the object and the name again.
  ApiServer* raw = server.get();
  raw->impl_->owner = &bus;
  raw->impl_->reconnect_hook = bus.onReconnect([raw] {
    Impl& i = *raw->impl_;
    i.object.reset();
    i.retry.reset();
    i.name_failures = 0;
    sd_bus_slot* s = nullptr;
    const int rr =
        sd_bus_add_object_vtable(i.bus->raw(), &s, kObjectPath, kManagerInterface, kVtable, &i);
    if (rr < 0) {
      std::fprintf(stderr, "<3>vigild: cannot register %s on the new bus connection: %s\n",
                   kObjectPath, strerror(-rr));
      return;
    }
    i.object.reset(s);
    raw->requestName();
  });
  return server;
}

namespace {
// The bus may refuse the name for a moment after the package is installed: dbus-daemon
// reloads its policy (/usr/share/dbus-1/system.d/org.vigil.Vigil1.conf) on inotify,
// asynchronously. vigild asks again, at this interval, until it owns the name.
constexpr std::uint64_t kNameRetryUsec = 2'000'000;
}  // namespace

void ApiServer::requestName() {
  int r = sd_bus_request_name_async(
      impl_->bus->raw(), nullptr, kBusName, 0,
      [](sd_bus_message* m, void* ud, sd_bus_error*) -> int {
        auto* self = static_cast<ApiServer*>(ud);
        if (!sd_bus_message_is_method_error(m, nullptr)) {
          if (self->impl_->name_failures > 0)
            std::fprintf(stderr, "<5>vigild: owns %s now; the API is available\n", kBusName);
          self->impl_->name_failures = 0;
          return 0;
        }
        const sd_bus_error* e = sd_bus_message_get_error(m);
        if (self->impl_->name_failures++ == 0)
          std::fprintf(stderr, "<3>vigild: cannot own %s on the bus: %s; retrying every %llus\n",
                       kBusName, e && e->message ? e->message : "unknown error",
                       static_cast<unsigned long long>(kNameRetryUsec / 1000000));
        sd_event* event = self->impl_->bus->event;
        if (event) {
          sd_event_source* src = nullptr;
          if (sd_event_add_time_relative(
                  event, &src, CLOCK_MONOTONIC, kNameRetryUsec, 0,
                  [](sd_event_source* s, std::uint64_t, void* ud2) -> int {
                    auto* srv = static_cast<ApiServer*>(ud2);
                    srv->impl_->retry.reset();
                    srv->requestName();
                    (void)s;
                    return 0;
                  },
                  self) >= 0)
            self->impl_->retry.reset(src);
        }
        return 0;
      },
      this);
  if (r < 0)
    std::fprintf(stderr, "<3>vigild: cannot request %s: %s; the API is unavailable\n", kBusName,
                 strerror(-r));
}

void ApiServer::eventPublished(const status::EventView& event) {
  sd_bus_message* raw = nullptr;
  int r =
      sd_bus_message_new_signal(impl_->bus->raw(), &raw, kObjectPath, kManagerInterface, "Event");
  if (r < 0) return;
  MsgPtr m(raw);
  if (codec::appendDict(m.get(), event) < 0) return;
  sd_bus_send(impl_->bus->raw(), m.get(), nullptr);
}

void ApiServer::operationFinished(const core::Completion& c) {
  sd_bus_emit_signal(impl_->bus->raw(), kObjectPath, kManagerInterface, "OperationFinished", "tbs",
                     c.operation, c.ok ? 1 : 0, c.message.c_str());
}

}  // namespace vigil::api
