#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "daemon/EventLog.h"

using vigil::core::Event;
using vigil::core::EventType;
using vigil::daemon::EventLog;

namespace {

// What `record` writes to stderr (the log's copy for a foreground vigild) for `events`.
std::string stderrOf(const std::string& level, const std::vector<Event>& events) {
  char path[] = "/tmp/vigil-event-log-XXXXXX";
  const int fd = mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  EventLog log(false, true);
  log.setLevel(level);
  for (const auto& e : events) log.record(e);
  std::fflush(stderr);
  dup2(saved, STDERR_FILENO);
  close(saved);
  close(fd);
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  unlink(path);
  return out.str();
}

Event make(EventType type, std::string reason, std::string message) {
  Event e;
  e.type = type;
  e.worker = "web/api";
  e.reason = std::move(reason);
  e.message = std::move(message);
  return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(event_log)

BOOST_AUTO_TEST_CASE(the_level_filters_events_but_never_the_audit_trail) {
  const std::vector<Event> events = {
      make(EventType::WorkerStarted, "start", "up"),
      make(EventType::OperatorCommand, "stop", "stopped by operator (uid 1000)"),
      make(EventType::ConfigApplied, "reload", "configuration applied"),
      make(EventType::WorkerStartFailed, "exec-failure", "start failed"),
  };
  const std::string error = stderrOf("error", events);
  BOOST_TEST(error.find("web/api: up") == std::string::npos);
  BOOST_TEST(error.find("stopped by operator (uid 1000)") != std::string::npos);
  BOOST_TEST(error.find("configuration applied") != std::string::npos);
  BOOST_TEST(error.find("start failed") != std::string::npos);

  const std::string info = stderrOf("info", events);
  BOOST_TEST(info.find("web/api: up") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
