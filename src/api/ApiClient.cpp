#include "api/ApiClient.h"

#include <cstring>
#include <deque>
#include <map>

#include <fmt/format.h>

#include "api/Codec.h"
#include "api/Names.h"
#include "systemd/BusImpl.h"

namespace vigil::api {

using systemd::BusError;
using systemd::BusPtr;
using systemd::MsgPtr;
using systemd::SlotPtr;

namespace {
// Longer than any read takes (the status of 4096 workers samples in well under a second
// natively); commands answer at once, their end is awaited separately.
constexpr std::uint64_t kCallTimeoutUsec = 60'000'000;
}  // namespace

struct ApiClient::Impl {
  BusPtr bus;
  SlotPtr operations_match;
  SlotPtr events_match;
  std::map<std::uint64_t, core::Completion> finished;  // seen, not yet waited for
  std::deque<status::EventView> events;                // received, not yet handed to followEvents()
  std::string follow_error;

  util::Result<MsgPtr> call(const char* method,
                            const std::function<int(sd_bus_message*)>& append = {}) {
    sd_bus_message* raw = nullptr;
    int r = sd_bus_message_new_method_call(bus.get(), &raw, kBusName, kObjectPath,
                                           kManagerInterface, method);
    if (r < 0) return util::sysFail(-r, fmt::format("{}: building the call", method));
    MsgPtr m(raw);
    if (append) {
      r = append(m.get());
      if (r < 0) return util::sysFail(-r, fmt::format("{}: building the call", method));
    }
    BusError error;
    sd_bus_message* reply = nullptr;
    r = sd_bus_call(bus.get(), m.get(), kCallTimeoutUsec, &error.e, &reply);
    if (r < 0) {
      std::string name = sd_bus_error_is_set(&error.e) ? error.e.name : "";
      std::string text = systemd::errorText(r, &error.e);
      return util::fail(text, -r, name);
    }
    return MsgPtr(reply);
  }

  util::Result<Accepted> command(const char* method,
                                 const std::function<int(sd_bus_message*)>& append) {
    auto reply = call(method, append);
    if (!reply) return tl::unexpected(reply.error());
    std::uint64_t op = 0;
    const char* message = nullptr;
    int r = sd_bus_message_read(reply->get(), "ts", &op, &message);
    if (r < 0) return malformed(method, r, "");
    return Accepted{op, message};
  }

  static tl::unexpected<util::Error> malformed(const char* method, int r, const std::string& why) {
    return util::fail(fmt::format("vigild's answer to {} is not what this vigilctl expects ({}); "
                                  "are vigild and vigilctl the same version?",
                                  method, why.empty() ? strerror(r < 0 ? -r : r) : why),
                      EBADMSG);
  }
};

namespace {

int onOperationFinished(sd_bus_message* m, void* ud, sd_bus_error*) {
  auto* self = static_cast<ApiClient::Impl*>(ud);
  std::uint64_t op = 0;
  int ok = 0;
  const char* message = nullptr;
  if (sd_bus_message_read(m, "tbs", &op, &ok, &message) < 0) return 0;
  self->finished[op] = core::Completion{op, ok != 0, message};
  return 0;
}

int onEvent(sd_bus_message* m, void* ud, sd_bus_error*) {
  auto* self = static_cast<ApiClient::Impl*>(ud);
  status::EventView e;
  std::string error;
  if (codec::readDict(m, e, error) < 0) {
    self->follow_error = "an Event signal vigilctl cannot read: " + error;
    return 0;
  }
  self->events.push_back(std::move(e));
  return 0;
}

}  // namespace

ApiClient::ApiClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ApiClient::~ApiClient() = default;

util::Result<std::unique_ptr<ApiClient>> ApiClient::connect(const std::string& host,
                                                            const std::string& address) {
  sd_bus* raw = nullptr;
  int r = 0;
  if (!address.empty()) {
    r = sd_bus_new(&raw);
    if (r >= 0) r = sd_bus_set_address(raw, address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(raw, 1);
    if (r >= 0) r = sd_bus_start(raw);
    if (r < 0 && raw) {
      sd_bus_unref(raw);
      raw = nullptr;
    }
  } else if (!host.empty()) {
    r = sd_bus_open_system_remote(&raw, host.c_str());
  } else {
    r = sd_bus_open_system(&raw);
  }
  if (r < 0)
    return util::sysFail(
        -r, host.empty() ? std::string("connecting to the system bus")
                         : fmt::format("connecting to the system bus of {} over SSH", host));
  auto impl = std::make_unique<Impl>();
  impl->bus.reset(raw);
  return std::unique_ptr<ApiClient>(new ApiClient(std::move(impl)));
}

util::Result<status::VigildView> ApiClient::info() {
  auto reply = impl_->call("GetInfo");
  if (!reply) return tl::unexpected(reply.error());
  status::VigildView v;
  std::string why;
  int r = codec::readDict(reply->get(), v, why);
  if (r < 0) return Impl::malformed("GetInfo", r, why);
  return v;
}

util::Result<status::StatusSnapshot> ApiClient::status(const std::string& target) {
  auto reply = impl_->call("GetStatus", [&](sd_bus_message* m) {
    return sd_bus_message_append(m, "s", target.c_str());
  });
  if (!reply) return tl::unexpected(reply.error());
  status::StatusSnapshot s;
  std::string why;
  int r = codec::readDict(reply->get(), s.vigild, why);
  if (r >= 0) r = codec::readList(reply->get(), s.supervisors, why);
  if (r >= 0) r = codec::readList(reply->get(), s.workers, why);
  if (r >= 0) r = sd_bus_message_read_basic(reply->get(), 'x', &s.taken_realtime_usec);
  if (r < 0) return Impl::malformed("GetStatus", r, why);
  return s;
}

util::Result<std::vector<status::EventView>> ApiClient::recentEvents(std::uint32_t max) {
  auto reply = impl_->call("ListEvents",
                           [&](sd_bus_message* m) { return sd_bus_message_append(m, "u", max); });
  if (!reply) return tl::unexpected(reply.error());
  std::vector<status::EventView> out;
  std::string why;
  int r = codec::readList(reply->get(), out, why);
  if (r < 0) return Impl::malformed("ListEvents", r, why);
  return out;
}

util::Result<std::vector<status::HistoryView>> ApiClient::history(const std::string& target,
                                                                  std::uint64_t range_usec,
                                                                  std::uint32_t points) {
  auto reply = impl_->call("GetHistory", [&](sd_bus_message* m) {
    return sd_bus_message_append(m, "stu", target.c_str(), range_usec, points);
  });
  if (!reply) return tl::unexpected(reply.error());
  std::vector<status::HistoryView> out;
  std::string why;
  int r = codec::readList(reply->get(), out, why);
  if (r < 0) return Impl::malformed("GetHistory", r, why);
  return out;
}

util::Result<std::vector<std::string>> ApiClient::targets() {
  auto reply = impl_->call("ListTargets");
  if (!reply) return tl::unexpected(reply.error());
  std::vector<std::string> out;
  std::string why;
  int r = codec::readValue(reply->get(), out, why);
  if (r < 0) return Impl::malformed("ListTargets", r, why);
  return out;
}

util::Result<void> ApiClient::watchOperations() {
  if (impl_->operations_match) return {};
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_match_signal(impl_->bus.get(), &slot, kBusName, kObjectPath, kManagerInterface,
                              "OperationFinished", onOperationFinished, impl_.get());
  if (r < 0) return util::sysFail(-r, "subscribing to OperationFinished");
  impl_->operations_match.reset(slot);
  return {};
}

namespace {
std::function<int(sd_bus_message*)> targetOnly(const std::string& target) {
  return [target](sd_bus_message* m) { return sd_bus_message_append(m, "s", target.c_str()); };
}
}  // namespace

util::Result<Accepted> ApiClient::start(const std::string& target) {
  return impl_->command("Start", targetOnly(target));
}
util::Result<Accepted> ApiClient::stop(const std::string& target) {
  return impl_->command("Stop", targetOnly(target));
}
util::Result<Accepted> ApiClient::restart(const std::string& target, bool rolling) {
  return impl_->command(rolling ? "RestartRolling" : "Restart", targetOnly(target));
}
util::Result<Accepted> ApiClient::reset(const std::string& target) {
  return impl_->command("Reset", targetOnly(target));
}
util::Result<Accepted> ApiClient::kill(const std::string& target, int signal, bool main_only) {
  return impl_->command("Kill", [&](sd_bus_message* m) {
    return sd_bus_message_append(m, "sib", target.c_str(), static_cast<std::int32_t>(signal),
                                 main_only ? 1 : 0);
  });
}
util::Result<Accepted> ApiClient::freeze(const std::string& target, bool freeze) {
  return impl_->command(freeze ? "Freeze" : "Thaw", targetOnly(target));
}
util::Result<Accepted> ApiClient::setLimits(
    const std::string& target, const std::vector<std::pair<std::string, std::string>>& settings) {
  return impl_->command("SetLimits", [&](sd_bus_message* m) {
    int r = sd_bus_message_append(m, "s", target.c_str());
    if (r >= 0) r = sd_bus_message_open_container(m, 'a', "(ss)");
    for (const auto& [k, v] : settings) {
      if (r < 0) break;
      r = sd_bus_message_append(m, "(ss)", k.c_str(), v.c_str());
    }
    return r < 0 ? r : sd_bus_message_close_container(m);
  });
}
util::Result<Accepted> ApiClient::scale(const std::string& target, std::uint32_t instances) {
  return impl_->command("Scale", [&](sd_bus_message* m) {
    return sd_bus_message_append(m, "su", target.c_str(), instances);
  });
}

util::Result<ReloadAnswer> ApiClient::reload(bool dry_run) {
  auto reply = impl_->call(
      "Reload", [&](sd_bus_message* m) { return sd_bus_message_append(m, "b", dry_run ? 1 : 0); });
  if (!reply) return tl::unexpected(reply.error());
  ReloadAnswer a;
  int applied = 0;
  std::string why;
  int r = sd_bus_message_read_basic(reply->get(), 'b', &applied);
  if (r >= 0) r = codec::readValue(reply->get(), a.plan, why);
  if (r >= 0) r = codec::readValue(reply->get(), a.warnings, why);
  if (r >= 0) r = sd_bus_message_read_basic(reply->get(), 'u', &a.generation);
  if (r < 0) return Impl::malformed("Reload", r, why);
  a.applied = applied != 0;
  return a;
}

util::Result<core::Completion> ApiClient::wait(std::uint64_t operation,
                                               std::uint64_t timeout_usec) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const std::uint64_t start = static_cast<std::uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  for (;;) {
    auto it = impl_->finished.find(operation);
    if (it != impl_->finished.end()) return it->second;
    int r = sd_bus_process(impl_->bus.get(), nullptr);
    if (r < 0) return util::sysFail(-r, "waiting for the operation to finish (connection lost)");
    if (r > 0) continue;
    std::uint64_t left = UINT64_MAX;
    if (timeout_usec) {
      clock_gettime(CLOCK_MONOTONIC, &ts);
      const std::uint64_t now = static_cast<std::uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
      if (now - start >= timeout_usec)
        return util::fail("timed out waiting for the operation to finish", ETIMEDOUT);
      left = timeout_usec - (now - start);
    }
    r = sd_bus_wait(impl_->bus.get(), left);
    if (r < 0) return util::sysFail(-r, "waiting for the operation to finish (connection lost)");
  }
}

util::Result<void> ApiClient::watchEvents() {
  if (impl_->events_match) return {};
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_match_signal(impl_->bus.get(), &slot, kBusName, kObjectPath, kManagerInterface,
                              "Event", onEvent, impl_.get());
  if (r < 0) return util::sysFail(-r, "subscribing to Event");
  impl_->events_match.reset(slot);
  return {};
}

util::Result<void> ApiClient::followEvents(
    const std::function<bool(const status::EventView&)>& fn) {
  if (auto w = watchEvents(); !w) return w;
  for (;;) {
    while (!impl_->events.empty()) {
      status::EventView e = std::move(impl_->events.front());
      impl_->events.pop_front();
      if (!fn(e)) return {};
    }
    if (!impl_->follow_error.empty()) return util::fail(impl_->follow_error, EBADMSG);
    int r = sd_bus_process(impl_->bus.get(), nullptr);
    if (r < 0) return util::sysFail(-r, "following events (connection lost)");
    if (r > 0) continue;
    r = sd_bus_wait(impl_->bus.get(), UINT64_MAX);
    if (r < 0) return util::sysFail(-r, "following events (connection lost)");
  }
}

}  // namespace vigil::api
