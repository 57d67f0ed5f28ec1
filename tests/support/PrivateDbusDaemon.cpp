#include "support/PrivateDbusDaemon.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <boost/test/unit_test.hpp>

namespace vigil::test {

PrivateDbusDaemon::PrivateDbusDaemon(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "-XXXXXX";
  dir_ = mkdtemp(tmpl.data());
  chmod(dir_.c_str(), 0755);  // an unprivileged client must reach the socket
  address_ = "unix:path=" + (dir_ / "bus").string();
  std::ofstream(dir_ / "bus.conf")
      << "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
         " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
         "<busconfig><type>custom</type><listen>"
      << address_
      << "</listen><auth>EXTERNAL</auth>"
         "<policy context=\"default\"><allow user=\"*\"/><allow own=\"*\"/>"
         "<allow send_type=\"method_call\"/><allow send_type=\"signal\"/>"
         "<allow send_type=\"method_return\"/><allow send_type=\"error\"/>"
         "<allow receive_type=\"method_call\"/><allow receive_type=\"signal\"/>"
         "<allow receive_type=\"method_return\"/><allow receive_type=\"error\"/>"
         "</policy></busconfig>\n";
  start();
}

PrivateDbusDaemon::~PrivateDbusDaemon() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  std::filesystem::remove_all(dir_);
}

void PrivateDbusDaemon::start() {
  const auto socket = dir_ / "bus";
  std::filesystem::remove(socket);
  pid_ = fork();
  if (pid_ == 0) {
    const std::string conf = "--config-file=" + (dir_ / "bus.conf").string();
    execlp("dbus-daemon", "dbus-daemon", conf.c_str(), "--nofork", "--nopidfile",
           static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 500 && !std::filesystem::exists(socket); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  BOOST_TEST_REQUIRE(std::filesystem::exists(socket), "dbus-daemon did not start");
  chmod(socket.c_str(), 0777);
}

void PrivateDbusDaemon::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

}  // namespace vigil::test
