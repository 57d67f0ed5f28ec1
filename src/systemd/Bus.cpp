#include "systemd/Bus.h"

#include <string.h>
#include <time.h>

#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "systemd/BusImpl.h"

namespace vigil::systemd {

std::string errorText(int r, const sd_bus_error* e) {
  if (e && sd_bus_error_is_set(e)) return e->message ? e->message : e->name;
  return strerror(r < 0 ? -r : r);
}

void Bus::Impl::post(std::function<void()> fn) {
  auto* heap = new std::function<void()>(std::move(fn));
  sd_event_source* src = nullptr;
  int r = event ? sd_event_add_defer(
                      event, &src,
                      [](sd_event_source* s, void* ud) -> int {
                        auto* f = static_cast<std::function<void()>*>(ud);
                        (*f)();
                        sd_event_source_disable_unref(s);
                        return 0;
                      },
                      heap)
                : -ENOTCONN;
  if (r < 0) {
    (*heap)();  // no loop to defer to: run now rather than lose the callback
    delete heap;
    return;
  }
  sd_event_source_set_destroy_callback(
      src, [](void* ud) { delete static_cast<std::function<void()>*>(ud); });
}

void Bus::Impl::call(BuildFn build, ReplyFn reply) {
  queue.push_back(std::make_unique<Call>(Call{this, std::move(build), std::move(reply)}));
  pump();
}

void Bus::Impl::pump() {
  // While the connection is down or closing (sd_bus_is_open: not before the Disconnected
  // signal is processed), calls wait: sent now they would fail for nothing.
  if (reconnecting || sd_bus_is_open(bus.get()) <= 0) return;
  while (in_flight < kMaxCallsInFlight && !queue.empty()) {
    std::unique_ptr<Call> c = std::move(queue.front());
    queue.pop_front();
    sd_bus_message* raw_msg = nullptr;
    int r = c->build(&raw_msg);
    MsgPtr m(raw_msg);
    sd_bus_slot* slot = nullptr;
    if (r >= 0) r = sd_bus_call_async(bus.get(), &slot, m.get(), &Impl::onReply, c.get(), 0);
    if (r < 0) {
      auto fail = std::move(c->reply);
      const std::string text = strerror(-r);
      post([fail, text]() {
        sd_bus_error e{};
        sd_bus_error_set(&e, SD_BUS_ERROR_FAILED, text.c_str());
        fail(nullptr, &e);
        sd_bus_error_free(&e);
      });
      continue;
    }
    in_flight++;
    c.release();  // owned by the slot from here on; freed by its destroy callback
    sd_bus_slot_set_destroy_callback(slot, [](void* ud) { delete static_cast<Call*>(ud); });
    sd_bus_slot_set_floating(slot, 1);
    sd_bus_slot_unref(slot);  // floating: the bus keeps it until the reply
  }
}

int Bus::Impl::onReply(sd_bus_message* m, void* ud, sd_bus_error*) {
  auto* c = static_cast<Call*>(ud);
  Impl* self = c->self;
  self->in_flight--;
  const sd_bus_error* err =
      sd_bus_message_is_method_error(m, nullptr) ? sd_bus_message_get_error(m) : nullptr;
  ReplyFn reply = std::move(c->reply);
  reply(m, err);
  self->pump();
  return 0;
}

int Bus::Impl::addMatch(const char* rule, sd_bus_message_handler_t callback, void* userdata) {
  sd_bus_slot* slot = nullptr;
  const int r = sd_bus_add_match(bus.get(), &slot, rule, callback, userdata);
  if (r >= 0) matches.emplace_back(slot);
  return r;
}

namespace {

std::uint64_t monotonicUsec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

}  // namespace

void Bus::Impl::watchDisconnect() {
  sd_bus_slot* slot = nullptr;
  const int r = sd_bus_match_signal(
      bus.get(), &slot, "org.freedesktop.DBus.Local", "/org/freedesktop/DBus/Local",
      "org.freedesktop.DBus.Local", "Disconnected",
      [](sd_bus_message*, void* ud, sd_bus_error*) -> int {
        static_cast<Bus::Impl*>(ud)->lost("the system bus connection was closed");
        return 0;
      },
      this);
  if (r >= 0) disconnected.reset(slot);
}

void Bus::Impl::lost(const std::string& why) {
  if (!keep) return;
  if (!reconnecting) {
    reconnecting = true;
    attempts = 0;
    lost_at_usec = monotonicUsec();
    lost_why = why;
    if (keep->on_lost) keep->on_lost(why);
    sd_event_source* src = nullptr;
    const std::uint64_t deadline =
        lost_at_usec + static_cast<std::uint64_t>(keep->give_up_after.count());
    if (sd_event_add_time(
            event, &src, CLOCK_MONOTONIC, deadline, 0,
            [](sd_event_source*, std::uint64_t, void* ud) -> int {
              auto* self = static_cast<Bus::Impl*>(ud);
              if (!self->reconnecting) return 0;
              self->retry.reset();
              if (self->keep->on_give_up)
                self->keep->on_give_up(fmt::format(
                    "{}, and it is not back after {} attempt(s) in {}s", self->lost_why,
                    self->attempts,
                    std::chrono::duration_cast<std::chrono::seconds>(self->keep->give_up_after)
                        .count()));
              return 0;
            },
            this) >= 0)
      give_up.reset(src);
  }
  // Also when a new connection failed before it was of use (its Disconnected).
  if (!retry) scheduleAttempt();
}

void Bus::Impl::scheduleAttempt() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  const double base = std::min<double>(static_cast<double>(keep->max_delay.count()),
                                       static_cast<double>(keep->first_delay.count()) *
                                           static_cast<double>(1ULL << std::min(attempts, 20u)));
  std::uniform_real_distribution<double> u(0.0, std::max(0.0, keep->jitter));
  const auto delay = static_cast<std::uint64_t>(base * (1.0 + u(rng)));
  sd_event_source* src = nullptr;
  if (sd_event_add_time_relative(
          event, &src, CLOCK_MONOTONIC, delay, 0,
          [](sd_event_source*, std::uint64_t, void* ud) -> int {
            auto* self = static_cast<Bus::Impl*>(ud);
            self->retry.reset();
            self->attempt();
            return 0;
          },
          this) >= 0)
    retry.reset(src);
}

void Bus::Impl::attempt() {
  if (!reconnecting) return;
  attempts++;
  sd_bus* fresh = nullptr;
  int r = open(&fresh);
  if (r >= 0) r = sd_bus_attach_event(fresh, event, SD_EVENT_PRIORITY_NORMAL);
  if (r < 0) {
    if (fresh) sd_bus_flush_close_unref(fresh);
    scheduleAttempt();
    return;
  }
  // The old connection's slots go with it; the owners of the others re-add theirs in
  // their hooks (they hold slots on the old connection until then).
  disconnected.reset();
  name_watch.reset();
  name_query.reset();
  matches.clear();
  BusPtr old = std::move(bus);
  bus.reset(fresh);
  watchDisconnect();
  // A hook may drop hooks (its owner going away): iterate over a copy of the ids.
  std::vector<std::size_t> ids;
  for (const auto& [id, hook] : reconnect_hooks) ids.push_back(id);
  for (const auto id : ids) {
    auto it = reconnect_hooks.find(id);
    if (it != reconnect_hooks.end()) it->second();
  }
  old.reset();
  if (keep->await_name.empty()) {
    opened();
    return;
  }
  const std::string rule = fmt::format(
      "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
      "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='{}'",
      keep->await_name);
  sd_bus_slot* slot = nullptr;
  if (sd_bus_add_match(
          bus.get(), &slot, rule.c_str(),
          [](sd_bus_message* m, void* ud, sd_bus_error*) -> int {
            const char *name = nullptr, *old_owner = nullptr, *new_owner = nullptr;
            if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && new_owner &&
                *new_owner)
              static_cast<Bus::Impl*>(ud)->opened();
            return 0;
          },
          this) >= 0)
    name_watch.reset(slot);
  slot = nullptr;
  if (sd_bus_call_method_async(
          bus.get(), &slot, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
          "GetNameOwner",
          [](sd_bus_message* m, void* ud, sd_bus_error*) -> int {
            if (!sd_bus_message_is_method_error(m, nullptr)) static_cast<Bus::Impl*>(ud)->opened();
            return 0;
          },
          this, "s", keep->await_name.c_str()) >= 0)
    name_query.reset(slot);
}

void Bus::Impl::opened() {
  if (!reconnecting) return;
  reconnecting = false;
  give_up.reset();
  retry.reset();
  // name_watch and name_query stay until the next connection: this may run inside their
  // callbacks; later signals find reconnecting false and do nothing.
  if (keep->on_back)
    keep->on_back(std::chrono::microseconds(monotonicUsec() - lost_at_usec), attempts);
  pump();
}

namespace {

util::Result<std::unique_ptr<Bus::Impl>> attach(sd_bus* raw,
                                                sd_event* event,
                                                std::function<void(const std::string&)> lost) {
  auto impl = std::make_unique<Bus::Impl>();
  impl->bus.reset(raw);
  impl->event = event;
  impl->on_disconnect = std::move(lost);
  if (event) {
    if (int r = sd_bus_attach_event(raw, event, SD_EVENT_PRIORITY_NORMAL); r < 0)
      return util::sysFail(-r, "attaching the bus to the event loop");
  }
  if (impl->on_disconnect) {
    int r = impl->addMatch(
        "type='signal',sender='org.freedesktop.DBus.Local',path='/org/freedesktop/DBus/Local',"
        "interface='org.freedesktop.DBus.Local',member='Disconnected'",
        [](sd_bus_message*, void* ud, sd_bus_error*) -> int {
          auto* self = static_cast<Bus::Impl*>(ud);
          self->on_disconnect("the system bus connection was closed");
          return 0;
        },
        impl.get());
    if (r < 0) return util::sysFail(-r, "adding the Disconnected match");
  }
  return impl;
}

}  // namespace

Bus::Bus(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Bus::~Bus() {
  impl_->matches.clear();
}

std::size_t Bus::pendingCalls() const {
  return impl_->pendingCalls();
}

void Bus::keepConnected(KeepConnected options) {
  Impl& i = *impl_;
  if (!i.event || !i.open) return;
  i.keep = std::move(options);
  // The Disconnected match of attach() (on_disconnect) is replaced by the reconnecting one.
  i.matches.clear();
  i.on_disconnect = {};
  i.watchDisconnect();
}

std::size_t Bus::onReconnect(std::function<void()> hook) {
  const std::size_t id = impl_->next_hook++;
  impl_->reconnect_hooks.emplace(id, std::move(hook));
  return id;
}

void Bus::dropReconnectHook(std::size_t id) {
  impl_->reconnect_hooks.erase(id);
}

bool Bus::connected() const {
  return !impl_->reconnecting && sd_bus_is_open(impl_->bus.get()) > 0;
}

util::Result<std::unique_ptr<Bus>> Bus::system(sd_event* event,
                                               std::function<void(const std::string&)> lost,
                                               const std::string& description) {
  sd_bus* raw = nullptr;
  int r = sd_bus_open_system_with_description(&raw, description.c_str());
  if (r < 0) return util::sysFail(-r, "connecting to the system bus");
  auto impl = attach(raw, event, std::move(lost));
  if (!impl) return tl::unexpected(impl.error());
  (*impl)->open = [description](sd_bus** out) {
    return sd_bus_open_system_with_description(out, description.c_str());
  };
  return std::unique_ptr<Bus>(new Bus(std::move(*impl)));
}

util::Result<std::unique_ptr<Bus>> Bus::address(const std::string& address,
                                                sd_event* event,
                                                const std::string& description) {
  const auto open = [address, description](sd_bus** out) {
    sd_bus* raw = nullptr;
    int r = sd_bus_new(&raw);
    if (r >= 0) r = sd_bus_set_address(raw, address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(raw, 1);
    if (r >= 0) r = sd_bus_set_description(raw, description.c_str());
    if (r >= 0) r = sd_bus_start(raw);
    if (r < 0) {
      if (raw) sd_bus_unref(raw);
      return r;
    }
    *out = raw;
    return 0;
  };
  sd_bus* raw = nullptr;
  if (int r = open(&raw); r < 0)
    return util::sysFail(-r, fmt::format("connecting to the bus at {}", address));
  auto impl = attach(raw, event, {});
  if (!impl) return tl::unexpected(impl.error());
  (*impl)->open = open;
  return std::unique_ptr<Bus>(new Bus(std::move(*impl)));
}

util::Result<std::unique_ptr<Bus>> Bus::remote(const std::string& host,
                                               sd_event* event,
                                               const std::string& description) {
  sd_bus* raw = nullptr;
  int r = sd_bus_open_system_remote(&raw, host.c_str());
  if (r < 0) return util::sysFail(-r, fmt::format("connecting to the system bus of {}", host));
  sd_bus_set_description(raw, description.c_str());
  auto impl = attach(raw, event, {});
  if (!impl) return tl::unexpected(impl.error());
  return std::unique_ptr<Bus>(new Bus(std::move(*impl)));
}

}  // namespace vigil::systemd
