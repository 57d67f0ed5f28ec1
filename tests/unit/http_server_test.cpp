// http::HttpServer on a real sd-event loop and real sockets: GET and HEAD answered with the
// handler's header fields (a malformed one turns the answer into a 500), other methods and
// request bodies refused, a stalled client never holds up another, and a bind failure
// names the address and the reason.

#include <sys/socket.h>

#include <chrono>
#include <memory>
#include <string>

#include <systemd/sd-event.h>
#include <boost/test/unit_test.hpp>

#include "http/HttpServer.h"
#include "support/HttpProbe.h"

using namespace vigil;
using vigil::testing::HttpProbe;

namespace {

struct Loop {
  sd_event* event = nullptr;
  std::unique_ptr<http::HttpServer> server;
  std::string last_path;

  Loop() {
    sd_event_new(&event);
    config::ListenAddress a{AF_INET, "127.0.0.1", 0};
    auto s = http::HttpServer::start(event, a, [this](std::string_view path) {
      last_path = std::string(path);
      http::Response r;
      if (path == "/metrics") {
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        r.body = "x_total 1\n";
      } else if (path == "/page") {
        r.content_type = "text/html; charset=utf-8";
        r.body = "<p>hi</p>";
        r.headers = {{"Content-Security-Policy", "default-src 'none'"},
                     {"X-Content-Type-Options", "nosniff"}};
      } else if (path == "/split") {
        // A value that would end the header and start another (response splitting).
        r.body = "never sent";
        r.headers = {{"X-Note", "a\r\nSet-Cookie: x=1"}};
      } else if (path == "/nul") {
        r.body = "never sent";
        r.headers = {{"X-Note", std::string("a\0b", 3)}};
      } else {
        r.status = 404;
        r.body = "no\n";
      }
      return r;
    });
    BOOST_REQUIRE_MESSAGE(s, (s ? "" : s.error().message()));
    server = std::move(*s);
    BOOST_REQUIRE(server->port() != 0);
  }
  ~Loop() {
    server.reset();
    sd_event_unref(event);
  }
  // Runs the loop until `probe` is over (at most 5 s); false on timeout.
  bool exchange(HttpProbe& probe) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!probe.poll()) {
      if (std::chrono::steady_clock::now() > end) return false;
      sd_event_run(event, 10000);
    }
    return true;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(http_server, Loop)

BOOST_AUTO_TEST_CASE(get_is_answered_by_the_handler) {
  HttpProbe get(server->port(), HttpProbe::get("/metrics?x=1"));
  BOOST_REQUIRE(exchange(get));
  BOOST_TEST(get.status() == 200);
  BOOST_TEST(get.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  BOOST_TEST(get.body() == "x_total 1\n");
  BOOST_TEST(last_path == "/metrics");  // the query is not part of the path
  HttpProbe missing(server->port(), HttpProbe::get("/nothing"));
  BOOST_REQUIRE(exchange(missing));
  BOOST_TEST(missing.status() == 404);
  BOOST_TEST(server->requests() == 2u);
}

BOOST_AUTO_TEST_CASE(extra_header_fields_are_sent_and_a_malformed_one_is_a_500) {
  HttpProbe page(server->port(), HttpProbe::get("/page"));
  BOOST_REQUIRE(exchange(page));
  BOOST_TEST(page.status() == 200);
  BOOST_TEST(page.header("Content-Type") == "text/html; charset=utf-8");
  BOOST_TEST(page.header("Content-Security-Policy") == "default-src 'none'");
  BOOST_TEST(page.header("X-Content-Type-Options") == "nosniff");
  BOOST_TEST(page.body() == "<p>hi</p>");
  HttpProbe head(server->port(), HttpProbe::get("/page", "HEAD"));
  BOOST_REQUIRE(exchange(head));
  BOOST_TEST(head.header("Content-Security-Policy") == "default-src 'none'");
  BOOST_TEST(head.body().empty());
  for (const char* path : {"/split", "/nul"}) {
    HttpProbe bad(server->port(), HttpProbe::get(path));
    BOOST_REQUIRE(exchange(bad));
    BOOST_TEST(bad.status() == 500, path);
    BOOST_TEST(bad.header("Set-Cookie").empty());
    BOOST_TEST(bad.header("X-Note").empty());
    BOOST_TEST(bad.body() == "the response could not be composed\n");
  }
}

// The fixture's listener is on 127.0.0.1: only loopback names are served (DNS rebinding).
BOOST_AUTO_TEST_CASE(a_loopback_listener_answers_loopback_host_names_only) {
  for (const char* host :
       {"localhost", "127.0.0.1:9753", "[::1]:9753", "127.1.2.3", "localhost:1"}) {
    HttpProbe ok(server->port(), std::string("GET /metrics HTTP/1.1\r\nHost: ") + host +
                                     "\r\nConnection: close\r\n\r\n");
    BOOST_REQUIRE(exchange(ok));
    BOOST_TEST(ok.status() == 200, host);
  }
  for (const char* host : {"attacker.example:9753", "vigil.example", "10.0.0.1:9753", "[::2]",
                           "127.0.0.1.evil.example", "[::1"}) {
    HttpProbe bad(server->port(), std::string("GET /metrics HTTP/1.1\r\nHost: ") + host +
                                      "\r\nConnection: close\r\n\r\n");
    BOOST_REQUIRE(exchange(bad));
    BOOST_TEST(bad.status() == 421, host);
    BOOST_TEST(bad.body().find("x_total") == std::string::npos);
  }
  BOOST_TEST(http::isLoopbackHost("127.0.0.1"));
  BOOST_TEST(!http::isLoopbackHost(""));
  BOOST_TEST(!http::isLoopbackHost("128.0.0.1:80"));
}

BOOST_AUTO_TEST_CASE(head_has_the_headers_of_get_and_no_body) {
  HttpProbe head(server->port(), HttpProbe::get("/metrics", "HEAD"));
  BOOST_REQUIRE(exchange(head));
  BOOST_TEST(head.status() == 200);
  BOOST_TEST(head.header("Content-Length") == "10");
  BOOST_TEST(head.body().empty());
}

BOOST_AUTO_TEST_CASE(other_methods_and_bodies_are_refused) {
  HttpProbe post(server->port(),
                 "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: "
                 "3\r\n\r\nabc");
  BOOST_REQUIRE(exchange(post));
  BOOST_TEST(post.status() == 405);
  BOOST_TEST(post.header("Allow") == "GET, HEAD");
  HttpProbe get_with_body(server->port(),
                          "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          "Content-Length: 3\r\n\r\nabc");
  BOOST_REQUIRE(exchange(get_with_body));
  BOOST_TEST(get_with_body.status() == 413);
  BOOST_TEST(last_path.empty());  // the handler never saw either
}

BOOST_AUTO_TEST_CASE(a_stalled_client_does_not_hold_up_another) {
  // Half a request, never finished: MHD waits for it without blocking the loop.
  HttpProbe stalled(server->port(), "GET /metrics HTTP/1.1\r\nHo");
  for (int i = 0; i < 5; ++i) {
    stalled.poll();
    sd_event_run(event, 10000);
  }
  HttpProbe get(server->port(), HttpProbe::get("/metrics"));
  BOOST_REQUIRE(exchange(get));
  BOOST_TEST(get.status() == 200);
  BOOST_TEST(!stalled.poll());  // still open, still waiting
}

BOOST_AUTO_TEST_CASE(a_busy_address_is_an_error_naming_it) {
  config::ListenAddress same{AF_INET, "127.0.0.1", server->port()};
  auto second =
      http::HttpServer::start(event, same, [](std::string_view) { return http::Response{}; });
  BOOST_REQUIRE(!second);
  BOOST_TEST(second.error().message() ==
             "127.0.0.1:" + std::to_string(server->port()) + ": Address already in use");
}

BOOST_AUTO_TEST_SUITE_END()
