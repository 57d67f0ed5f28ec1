#include "health/CurlMulti.h"

#include <sys/epoll.h>

#include <cerrno>
#include <cstring>

#include <curl/curl.h>
#include <fmt/format.h>

namespace vigil::health {

util::Result<std::unique_ptr<CurlMulti>> CurlMulti::create(sd_event* event, Done done) {
  std::unique_ptr<CurlMulti> m(new CurlMulti(event, std::move(done)));
  CURLM* multi = curl_multi_init();
  if (!multi) return util::fail("curl_multi_init failed");
  m->multi_ = multi;
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &CurlMulti::onSocket);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, m.get());
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &CurlMulti::onTimerChange);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, m.get());
  const int r = sd_event_add_time(event, &m->timer_, CLOCK_MONOTONIC, UINT64_MAX, 0,
                                  &CurlMulti::onTimer, m.get());
  if (r < 0) return util::fail(fmt::format("cannot add the curl timer: {}", std::strerror(-r)));
  sd_event_source_set_enabled(m->timer_, SD_EVENT_OFF);
  sd_event_source_set_description(m->timer_, "curl-timer");
  return m;
}

CurlMulti::CurlMulti(sd_event* event, Done done) : event_(event), done_(std::move(done)) {}

CurlMulti::~CurlMulti() {
  // The caller removed its handles; curl_multi_cleanup calls onSocket(REMOVE) for any
  // socket still watched, which unrefs its source.
  if (multi_) curl_multi_cleanup(static_cast<CURLM*>(multi_));
  if (timer_) sd_event_source_disable_unref(timer_);
}

util::Result<void> CurlMulti::add(void* easy) {
  const CURLMcode c = curl_multi_add_handle(static_cast<CURLM*>(multi_), static_cast<CURL*>(easy));
  if (c != CURLM_OK) return util::fail(fmt::format("curl: {}", curl_multi_strerror(c)));
  return {};
}

void CurlMulti::remove(void* easy) {
  curl_multi_remove_handle(static_cast<CURLM*>(multi_), static_cast<CURL*>(easy));
}

int CurlMulti::onSocket(void* /*easy*/, int fd, int what, void* self, void* source) {
  auto* m = static_cast<CurlMulti*>(self);
  auto* s = static_cast<sd_event_source*>(source);
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      sd_event_source_disable_unref(s);
      curl_multi_assign(static_cast<CURLM*>(m->multi_), fd, nullptr);
    }
    return 0;
  }
  std::uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) events |= EPOLLIN;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) events |= EPOLLOUT;
  if (s) {
    if (sd_event_source_set_io_events(s, events) < 0) return -1;
    return sd_event_source_set_enabled(s, SD_EVENT_ON) < 0 ? -1 : 0;
  }
  if (sd_event_add_io(m->event_, &s, fd, events, &CurlMulti::onIo, m) < 0) return -1;
  sd_event_source_set_description(s, "curl-io");
  curl_multi_assign(static_cast<CURLM*>(m->multi_), fd, s);
  return 0;
}

int CurlMulti::onTimerChange(void* /*multi*/, long timeout_ms, void* self) {
  auto* m = static_cast<CurlMulti*>(self);
  if (timeout_ms < 0) return sd_event_source_set_enabled(m->timer_, SD_EVENT_OFF) < 0 ? -1 : 0;
  // 0: "call socket_action as soon as possible", which must not be from inside this
  // callback: a timer due now runs on the next loop iteration.
  std::uint64_t now = 0;
  sd_event_now(m->event_, CLOCK_MONOTONIC, &now);
  if (sd_event_source_set_time(m->timer_, now + static_cast<std::uint64_t>(timeout_ms) * 1000) < 0)
    return -1;
  return sd_event_source_set_enabled(m->timer_, SD_EVENT_ONESHOT) < 0 ? -1 : 0;
}

int CurlMulti::onIo(sd_event_source* /*s*/, int fd, std::uint32_t revents, void* self) {
  int flags = 0;
  if (revents & EPOLLIN) flags |= CURL_CSELECT_IN;
  if (revents & EPOLLOUT) flags |= CURL_CSELECT_OUT;
  if (revents & (EPOLLERR | EPOLLHUP)) flags |= CURL_CSELECT_ERR;
  static_cast<CurlMulti*>(self)->action(fd, flags);
  return 0;
}

int CurlMulti::onTimer(sd_event_source* /*s*/, std::uint64_t /*usec*/, void* self) {
  static_cast<CurlMulti*>(self)->action(CURL_SOCKET_TIMEOUT, 0);
  return 0;
}

void CurlMulti::action(int fd, int flags) {
  int running = 0;
  curl_multi_socket_action(static_cast<CURLM*>(multi_), fd, flags, &running);
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(static_cast<CURLM*>(multi_), &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    // done_ may remove this handle (and others): curl drops their queued messages.
    done_(msg->easy_handle, static_cast<int>(msg->data.result));
  }
}

}  // namespace vigil::health
