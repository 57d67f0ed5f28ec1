#include "systemd/Bus.h"

#include <string.h>

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

util::Result<std::unique_ptr<Bus>> Bus::system(sd_event* event,
                                               std::function<void(const std::string&)> lost,
                                               const std::string& description) {
  sd_bus* raw = nullptr;
  int r = sd_bus_open_system_with_description(&raw, description.c_str());
  if (r < 0) return util::sysFail(-r, "connecting to the system bus");
  auto impl = attach(raw, event, std::move(lost));
  if (!impl) return tl::unexpected(impl.error());
  return std::unique_ptr<Bus>(new Bus(std::move(*impl)));
}

util::Result<std::unique_ptr<Bus>> Bus::address(const std::string& address,
                                                sd_event* event,
                                                const std::string& description) {
  sd_bus* raw = nullptr;
  int r = sd_bus_new(&raw);
  if (r >= 0) r = sd_bus_set_address(raw, address.c_str());
  if (r >= 0) r = sd_bus_set_bus_client(raw, 1);
  if (r >= 0) r = sd_bus_set_description(raw, description.c_str());
  if (r >= 0) r = sd_bus_start(raw);
  if (r < 0) {
    if (raw) sd_bus_unref(raw);
    return util::sysFail(-r, fmt::format("connecting to the bus at {}", address));
  }
  auto impl = attach(raw, event, {});
  if (!impl) return tl::unexpected(impl.error());
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
