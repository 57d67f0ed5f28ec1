#pragma once
// libcurl's multi interface on an sd-event loop (the "multi_socket" API, as
// systemd-importd's curl-util.c drives it): curl says which sockets to watch for what
// (CURLMOPT_SOCKETFUNCTION) and when to call it back (CURLMOPT_TIMERFUNCTION); each
// socket becomes an io source of the loop and the timeout one timer source, and every
// wake-up is one curl_multi_socket_action(). Transfers that finish are handed to `done`.
// Nothing here blocks: name resolution runs in curl's resolver thread (Debian's
// libcurl4-openssl uses the threaded resolver).

#include <functional>
#include <memory>

#include <systemd/sd-event.h>

#include "util/Result.h"

namespace vigil::health {

class CurlMulti {
 public:
  // A transfer ended: its easy handle (a CURL*) and its CURLcode. The handle is still
  // attached: the callee calls remove() (and curl_easy_cleanup) when it is done with it.
  using Done = std::function<void(void* easy, int code)>;

  // Errors: curl_multi_init fails, or the loop refuses the timer source.
  static util::Result<std::unique_ptr<CurlMulti>> create(sd_event* event, Done done);
  ~CurlMulti();
  CurlMulti(const CurlMulti&) = delete;
  CurlMulti& operator=(const CurlMulti&) = delete;

  // Starts a configured easy handle (curl_multi_add_handle). Errors: curl refuses it.
  util::Result<void> add(void* easy);
  // Detaches an easy handle, finished or not (curl_multi_remove_handle).
  void remove(void* easy);

 private:
  CurlMulti(sd_event* event, Done done);
  static int onSocket(void* easy, int fd, int what, void* self, void* source);
  static int onTimerChange(void* multi, long timeout_ms, void* self);
  static int onIo(sd_event_source* s, int fd, std::uint32_t revents, void* self);
  static int onTimer(sd_event_source* s, std::uint64_t usec, void* self);
  void action(int fd, int flags);  // curl_multi_socket_action, then hand out what ended

  sd_event* event_;
  Done done_;
  void* multi_ = nullptr;  // CURLM*
  sd_event_source* timer_ = nullptr;
};

}  // namespace vigil::health
