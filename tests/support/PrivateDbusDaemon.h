#pragma once
// A private dbus-daemon for tests (the API on a bus of its own, the Bus's reconnection):
// its own directory under /tmp, a policy that lets every user connect, own any name and
// send anything, and its socket world-accessible, so an unprivileged client (a test that
// drops to nobody) reaches it too. It can be stopped (SIGKILL: as if it died) and started
// again on the same address.

#include <sys/types.h>

#include <filesystem>
#include <string>

namespace vigil::test {

class PrivateDbusDaemon {
 public:
  // Creates the directory and the policy, and starts the daemon (see start()). `prefix`
  // names the directory: /tmp/PREFIX-XXXXXX.
  explicit PrivateDbusDaemon(const std::string& prefix = "vigil-bus-test");
  // Stops the daemon (SIGTERM) and removes the directory.
  ~PrivateDbusDaemon();
  PrivateDbusDaemon(const PrivateDbusDaemon&) = delete;
  PrivateDbusDaemon& operator=(const PrivateDbusDaemon&) = delete;

  // Starts dbus-daemon on address() and waits (up to 5 s) until its socket exists; a
  // stale socket of an earlier run is removed first. Fails the test if it does not start.
  void start();
  // SIGKILLs the daemon and reaps it: every connection to it is closed at once.
  void kill();

  const std::string& address() const { return address_; }  // unix:path=DIR/bus
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  std::string address_;
  pid_t pid_ = -1;
};

}  // namespace vigil::test
