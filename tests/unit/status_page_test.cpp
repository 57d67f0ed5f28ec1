// status::renderStatusPage and its helpers: HTML escaping of hostile text (markup, quotes,
// NUL, ill-formed UTF-8) against exact expected bytes and, on a whole page, the invariant
// that every tag is one the renderer writes; the rows of a forest in supervision order with
// their states; memory bars at exact widths; the events newest first and bounded; an empty
// fleet; UTC times.

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "status/StatusPage.h"

using namespace vigil;
using namespace vigil::status;

namespace {

constexpr std::int64_t kNow = 1'764'504'000'000'000;  // 2025-11-30 12:00:00 UTC
const std::string kFffd = "\xEF\xBF\xBD";

WorkerView& addWorker(StatusSnapshot& s,
                      const std::string& sup,
                      const std::string& name,
                      std::uint32_t position,
                      std::uint32_t instance,
                      const std::string& state) {
  WorkerView w;
  w.supervisor = sup;
  w.tree = sup.substr(0, sup.find('/'));
  w.path = sup + "/" + name + (instance ? "@" + std::to_string(instance) : "");
  w.unit = "vigil-" + w.path + ".service";
  std::replace(w.unit.begin(), w.unit.end(), '/', '-');
  w.position = position;
  w.instance = instance;
  w.state = state;
  s.workers.push_back(w);
  return s.workers.back();
}

SupervisorView& addSupervisor(StatusSnapshot& s,
                              const std::string& path,
                              std::uint32_t position,
                              const std::string& state) {
  SupervisorView x;
  x.path = path;
  x.tree = path.substr(0, path.find('/'));
  x.position = position;
  x.state = state;
  x.strategy = "one_for_one";
  x.slice = "vigil-" + path + ".slice";
  std::replace(x.slice.begin(), x.slice.end(), '/', '-');
  x.max_restarts = 5;
  x.period_usec = 60'000'000;
  s.supervisors.push_back(x);
  return s.supervisors.back();
}

// Two trees; web has a nested supervisor placed between its workers, and the snapshot's
// vector order differs from the supervision order (positions and instances decide).
StatusSnapshot forest() {
  StatusSnapshot s;
  s.taken_realtime_usec = kNow;
  s.vigild.version = "0.1.0";
  s.vigild.pid = 412;
  s.vigild.config = "/etc/vigil/vigil.yaml";
  s.vigild.tier = "tier_2";
  s.vigild.ready = true;
  s.vigild.config_generation = 3;
  s.vigild.last_reload.result = "applied";
  s.vigild.workers_running = 4;
  s.vigild.workers_backoff = 1;
  s.vigild.workers_other = 2;
  addSupervisor(s, "web", 0, "running");
  addSupervisor(s, "web/backend", 1, "restarting");
  addSupervisor(s, "jobs", 0, "failed").failure = "3 restarts within 1min exceed intensity 2";
  addWorker(s, "web", "api", 2, 2, "backoff").restart_in_usec = 4'200'000;
  {
    auto& w = addWorker(s, "web", "api", 2, 1, "running");
    w.main_pid = 1234;
    w.uptime_usec = 3 * 3600'000'000LL + 2 * 60'000'000LL;
    w.memory_current_bytes = 100ULL << 20;
    w.memory_max_bytes = 400ULL << 20;
    CgroupView c;
    c.memory_current_bytes = 100ULL << 20;
    c.cpu_usage_usec = 1'260'000;
    c.cpu_usec_per_sec = 123'456;
    w.cgroup_stats = c;
  }
  addWorker(s, "web", "proxy", 0, 0, "running").main_pid = 1200;
  addWorker(s, "web/backend", "db", 0, 0, "frozen");
  {
    auto& w = addWorker(s, "web/backend", "cache", 1, 0, "stopped");
    w.memory_current_bytes = 1;
    w.memory_max_bytes = 3;  // 33.3 %, rounded down
  }
  {
    auto& w = addWorker(s, "jobs", "cron", 0, 0, "failed");
    w.restarts = 7;
    w.consecutive_failures = 3;
    w.memory_current_bytes = 600ULL << 20;  // above a memory.max lowered live
    w.memory_max_bytes = 512ULL << 20;
    ExitView e;
    e.at_realtime_usec = kNow - 12'000'000;
    e.description = "exited with status 3";
    e.decision = "not restarted: the tree failed";
    w.last_exit = e;
  }
  return s;
}

// The rows of the page (the text from each `<tr class="` to its `</tr>`), in order.
std::vector<std::string> rows(const std::string& page, const std::string& cls) {
  std::vector<std::string> out;
  const std::string open = "<tr class=\"" + cls;
  for (auto at = page.find(open); at != std::string::npos; at = page.find(open, at + 1)) {
    const auto end = page.find("</tr>", at);
    BOOST_REQUIRE(end != std::string::npos);
    out.push_back(page.substr(at, end - at));
  }
  return out;
}

std::string attribute(const std::string& row, const std::string& name) {
  const std::string key = name + "=\"";
  const auto at = row.find(key);
  if (at == std::string::npos) return "";
  const auto end = row.find('"', at + key.size());
  return row.substr(at + key.size(), end - at - key.size());
}

// The state in a row: the text of its first `<span class="st st-...">`.
std::string stateOf(const std::string& row) {
  const auto at = row.find("<span class=\"st st-");
  if (at == std::string::npos) return "";
  const auto from = row.find('>', at) + 1;
  return row.substr(from, row.find('<', from) - from);
}

// Every tag the renderer writes. A `<` followed by anything else is text that escaped
// escaping.
const std::set<std::string> kTags = {
    "!DOCTYPE", "html",  "head",  "meta",  "title", "style", "body", "header", "h1",
    "h2",       "span",  "p",     "code",  "b",     "div",   "ul",   "li",     "main",
    "section",  "table", "thead", "tbody", "tr",    "th",    "td",   "a",      "footer"};

void checkOnlyOwnTags(const std::string& page) {
  // The style element's content is CSS with no `<`.
  for (std::size_t at = page.find('<'); at != std::string::npos; at = page.find('<', at + 1)) {
    std::size_t from = at + 1;
    if (from < page.size() && page[from] == '/') ++from;
    std::size_t end = from;
    while (end < page.size() &&
           (std::isalnum(static_cast<unsigned char>(page[end])) || page[end] == '!'))
      ++end;
    const std::string name = page.substr(from, end - from);
    BOOST_TEST(kTags.count(name) == 1u,
               "unexpected markup at " << at << ": " << page.substr(at, 40));
  }
}

// The page is UTF-8 through and through: nlohmann's strict dump throws on anything else.
void checkUtf8(const std::string& page) {
  BOOST_CHECK_NO_THROW(nlohmann::json(page).dump());
  BOOST_TEST(page.find('\0') == std::string::npos);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(status_page)

BOOST_AUTO_TEST_CASE(escaping_replaces_markup_quotes_and_controls) {
  BOOST_TEST(htmlEscaped("<script>alert(\"x\")</script>") ==
             "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
  BOOST_TEST(htmlEscaped("a & b's") == "a &amp; b&#39;s");
  BOOST_TEST(htmlEscaped("&amp;") == "&amp;amp;");  // text, never entities passed through
  BOOST_TEST(htmlEscaped("tab\tlf\ncr\r") == "tab\tlf\ncr\r");
  BOOST_TEST(htmlEscaped(std::string("a\0b", 3)) == "a" + kFffd + "b");
  BOOST_TEST(htmlEscaped("\x01\x1f\x7f") == kFffd + kFffd + kFffd);
  BOOST_TEST(htmlEscaped("") == "");
  BOOST_TEST(htmlEscaped("plain /path@2 ok") == "plain /path@2 ok");
  std::string appended = "<kept>";
  appendHtmlEscaped(appended, "<x>");
  BOOST_TEST(appended == "<kept>&lt;x&gt;");
}

BOOST_AUTO_TEST_CASE(escaping_keeps_utf8_and_replaces_each_maximal_ill_formed_subpart) {
  struct Case {
    std::string in;
    std::string out;
  };
  const std::string F = kFffd;
  const Case cases[] = {
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"\xF4\x8F\xBF\xBF", "\xF4\x8F\xBF\xBF"},  // U+10FFFF, the last code point
      {"\xEF\xBF\xBD", "\xEF\xBF\xBD"},          // U+FFFD itself
      {"a\xFF"
       "b",
       "a" + F + "b"},
      {"\x80", F},      // a lone continuation byte
      {"\xC3", F},      // cut at the end
      {"\xE2\x82", F},  // one subpart: a valid prefix cut short
      {"\xE2\x82x", F + "x"},
      {"\xF0\x9F\x98", F},
      {"\xC0\xAF", F + F},                  // overlong '/': C0 is never a lead
      {"\xE0\x80\xAF", F + F + F},          // overlong: E0 needs A0..BF next
      {"\xED\xA0\x80", F + F + F},          // a surrogate
      {"\xF4\x90\x80\x80", F + F + F + F},  // above U+10FFFF
      {"\xF5\x80", F + F},
      {"\xC3<", F + "&lt;"},  // the byte after a cut sequence is read again
  };
  for (const auto& c : cases) BOOST_TEST(htmlEscaped(c.in) == c.out, "input " << c.in);
}

BOOST_AUTO_TEST_CASE(memory_bars_are_exact_tenths_of_a_percent) {
  BOOST_TEST(memoryPermille(0, 100).value() == 0u);
  BOOST_TEST(memoryPermille(25, 100).value() == 250u);
  BOOST_TEST(memoryPermille(1, 3).value() == 333u);
  BOOST_TEST(memoryPermille(2, 3).value() == 666u);  // rounded down
  BOOST_TEST(memoryPermille(100ULL << 20, 400ULL << 20).value() == 250u);
  BOOST_TEST(memoryPermille(999, 1000).value() == 999u);
  BOOST_TEST(memoryPermille(100, 100).value() == 1000u);
  BOOST_TEST(memoryPermille(600, 512).value() == 1000u);  // above the limit: a full bar
  BOOST_TEST(!memoryPermille(5, 0).has_value());
  constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
  BOOST_TEST(memoryPermille(kMax - 1, kMax).value() == 999u);  // no overflow
  BOOST_TEST(memoryPermille(kMax / 2, kMax).value() == 499u);

  const std::string page = renderStatusPage(forest(), {});
  const auto workers = rows(page, "worker");
  const auto row = [&](const std::string& path) {
    for (const auto& r : workers)
      if (attribute(r, "data-path") == path) return r;
    BOOST_FAIL("no row for " + path);
    return std::string();
  };
  BOOST_TEST(row("web/api@1")
                 .find("100M / 400M<div class=\"bar\"><div class=\"fill ok\" "
                       "style=\"width:25.0%\"></div></div>") != std::string::npos);
  BOOST_TEST(row("web/backend/cache").find("style=\"width:33.3%\"") != std::string::npos);
  BOOST_TEST(row("jobs/cron")
                 .find("600M / 512M<div class=\"bar\"><div class=\"fill crit\" "
                       "style=\"width:100.0%\"") != std::string::npos);
  BOOST_TEST(row("web/proxy").find("class=\"bar\"") == std::string::npos);  // no figures
  BOOST_TEST(row("web/api@2").find("class=\"bar\"") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(every_row_appears_once_in_supervision_order_with_its_state) {
  const StatusSnapshot s = forest();
  const std::string page = renderStatusPage(s, {});
  checkOnlyOwnTags(page);
  checkUtf8(page);
  BOOST_TEST(
      page.starts_with("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"));
  BOOST_TEST(page.ends_with("</body>\n</html>\n"));
  BOOST_TEST(page.find("<meta http-equiv=\"refresh\" content=\"5\">") != std::string::npos);

  // Supervisors and workers together, as they appear.
  std::vector<std::string> order;  // "path state"
  for (std::size_t at = page.find("<tr class=\""); at != std::string::npos;
       at = page.find("<tr class=\"", at + 1)) {
    const std::string row = page.substr(at, page.find("</tr>", at) - at);
    if (row.starts_with("<tr class=\"event")) continue;
    order.push_back(attribute(row, "data-path") + " " + stateOf(row));
  }
  const std::vector<std::string> expected = {
      "web running",
      "web/proxy running",
      "web/backend restarting",
      "web/backend/db frozen",
      "web/backend/cache stopped",
      "web/api@1 running",
      "web/api@2 backoff",
      "jobs failed",
      "jobs/cron failed",
  };
  BOOST_TEST(order == expected, boost::test_tools::per_element());
  BOOST_TEST(rows(page, "worker").size() == s.workers.size());
  BOOST_TEST(rows(page, "supervisor").size() == s.supervisors.size());

  // The tree guides of vigilctl status, and the cells of a running and a failed worker.
  const auto workers = rows(page, "worker");
  BOOST_TEST(workers[0].find("<span class=\"guide\">├─ </span>web/proxy") != std::string::npos);
  BOOST_TEST(workers[1].find("<span class=\"guide\">│  ├─ </span>web/backend/db") !=
             std::string::npos);
  BOOST_TEST(workers[4].find("<span class=\"guide\">└─ </span>web/api@2") != std::string::npos);
  const std::string& api = workers[3];
  BOOST_TEST(api.find("<td>vigil-web-api@1.service</td>") != std::string::npos);
  BOOST_TEST(api.find("<td class=\"num\">1234</td>") != std::string::npos);
  BOOST_TEST(api.find("up 3h 2min") != std::string::npos);
  BOOST_TEST(api.find("12.3%<div class=\"sub\">1.3s total</div>") != std::string::npos);
  BOOST_TEST(workers[4].find("in 4s") != std::string::npos);  // backoff: the next restart
  const std::string& cron = workers[5];
  BOOST_TEST(cron.find("<td class=\"num\">7<div class=\"sub\">3 failed in a row</div>") !=
             std::string::npos);
  BOOST_TEST(cron.find("exited with status 3<div class=\"sub\">&rarr; not restarted: the tree "
                       "failed &middot; 12s ago</div>") != std::string::npos);
  BOOST_TEST(page.find("<span class=\"st-failed\">3 restarts within 1min exceed intensity "
                       "2</span>") != std::string::npos);
  BOOST_TEST(page.find("<section class=\"tree\" data-tree=\"jobs\">") != std::string::npos);
  BOOST_TEST(page.find("workers: <b>4</b> running, <b>1</b> in backoff, <b>2</b> other") !=
             std::string::npos);
  BOOST_TEST(page.find("Taken 2025-11-30 12:00:00 UTC.") != std::string::npos);
  BOOST_TEST(page.find("class=\"alert\"") == std::string::npos);  // nothing to warn about
}

BOOST_AUTO_TEST_CASE(hostile_strings_arrive_as_text) {
  StatusSnapshot s = forest();
  const std::string script = "<script>alert(\"x\")</script>";
  const std::string escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;";
  // Names are restricted by the configuration ([a-z0-9_]), but the page does not rely on it.
  s.workers[0].path = "web/\"><script>alert(1)</script>";
  s.workers[0].unit = "u&<b>";
  ExitView e;
  e.description = script;
  e.decision = "restart in 1s' onmouseover='alert(1)";
  s.workers[1].last_exit = e;
  s.workers[1].health = "unhealthy";
  s.workers[1].health_detail = std::string("exec: exit 1: <img src=x onerror=alert(1)>") +
                               std::string(1, '\0') + "tail \xFF\xE2\x82";
  s.supervisors[2].failure = "</td></tr></table><h1>pwned</h1>";
  s.vigild.version = "<b>9</b>";
  s.vigild.config = "/etc/\"vigil\".yaml";
  s.vigild.tier = "'tier'";
  s.vigild.config_fallback = script;
  s.vigild.last_reload.result = "rejected";
  s.vigild.last_reload.errors = {"vigil.yaml:3:1: unknown key '" + script + "'"};
  s.vigild.state_error = "<style>body{display:none}</style>";
  EventView ev;
  ev.at_realtime_usec = kNow - 1'000'000;
  ev.type = "config-rejected";
  ev.message = script;
  ev.reason = "<u>";
  ev.worker = "w<x>";
  const std::string page = renderStatusPage(s, {ev});

  checkOnlyOwnTags(page);  // no <script, <img, <h1>, <u>, <x>, a second <style ...
  checkUtf8(page);
  BOOST_TEST(page.find("<script") == std::string::npos);
  BOOST_TEST(page.find(escaped) != std::string::npos);
  BOOST_TEST(page.find("data-path=\"web/&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\"") !=
             std::string::npos);
  BOOST_TEST(page.find("<td>u&amp;&lt;b&gt;</td>") != std::string::npos);
  BOOST_TEST(page.find("restart in 1s&#39; onmouseover=&#39;alert(1)") != std::string::npos);
  BOOST_TEST(page.find("exec: exit 1: &lt;img src=x onerror=alert(1)&gt;" + kFffd + "tail " +
                       kFffd + kFffd) != std::string::npos);
  BOOST_TEST(page.find("&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;&lt;h1&gt;pwned") != std::string::npos);
  BOOST_TEST(page.find("<h1>vigild &lt;b&gt;9&lt;/b&gt;") != std::string::npos);
  BOOST_TEST(page.find("<code>/etc/&quot;vigil&quot;.yaml</code>") != std::string::npos);
  BOOST_TEST(page.find("&#39;tier&#39;") != std::string::npos);
  BOOST_TEST(page.find("LAST GOOD CONFIGURATION: " + escaped) != std::string::npos);
  BOOST_TEST(page.find("<li>vigil.yaml:3:1: unknown key &#39;" + escaped + "&#39;</li>") !=
             std::string::npos);
  BOOST_TEST(page.find("state: &lt;style&gt;body{display:none}&lt;/style&gt;") !=
             std::string::npos);
  BOOST_TEST(page.find("<td>w&lt;x&gt;</td><td>" + escaped + " <span class=\"dim\">(&lt;u&gt;)") !=
             std::string::npos);
  // Exactly one style element: the page's own.
  BOOST_TEST(page.find("<style") == page.rfind("<style"));
}

BOOST_AUTO_TEST_CASE(warnings_are_shown_in_red) {
  StatusSnapshot s = forest();
  s.vigild.config_fallback = "vigil.yaml is invalid; supervising the copy of 12:00";
  s.vigild.last_reload.errors = {"vigil.yaml:3:15: trees.web.strategy: unknown"};
  s.vigild.state_error = "/var/lib/vigil: No space left on device";
  const std::string page = renderStatusPage(s, {});
  BOOST_TEST(page.find("<div class=\"alert\" id=\"config-fallback\">LAST GOOD CONFIGURATION: "
                       "vigil.yaml is invalid; supervising the copy of 12:00<ul><li>vigil.yaml:"
                       "3:15: trees.web.strategy: unknown</li></ul></div>") != std::string::npos);
  BOOST_TEST(page.find("<div class=\"alert\" id=\"state-error\">state: /var/lib/vigil: No space "
                       "left on device</div>") != std::string::npos);
  BOOST_TEST(page.find(".alert{color:#b00020") != std::string::npos);  // red

  s.vigild.config_fallback.clear();
  s.vigild.state_error.clear();
  s.vigild.last_reload.result = "rejected";
  const std::string rejected = renderStatusPage(s, {});
  BOOST_TEST(rejected.find("id=\"reload-rejected\"") != std::string::npos);
  BOOST_TEST(rejected.find("last reload <b class=\"st-failed\">rejected</b>") != std::string::npos);
  BOOST_TEST(rejected.find("id=\"config-fallback\"") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(events_are_newest_first_and_bounded) {
  std::vector<EventView> events;
  for (int i = 0; i < 60; ++i) {
    EventView e;
    e.at_realtime_usec = kNow - (60 - i) * 1'000'000LL;
    e.type = i == 59 ? "tree-failed" : "worker-exited";
    e.worker = "web/api";
    e.message = "#" + std::to_string(i) + "#";
    e.reason = "signal";
    events.push_back(e);  // oldest first, as RecentEvents::last gives them
  }
  const std::string page = renderStatusPage(forest(), events);
  const auto shown = rows(page, "event");
  BOOST_REQUIRE(shown.size() == 50u);
  for (std::size_t k = 0; k < shown.size(); ++k)
    BOOST_TEST(shown[k].find("#" + std::to_string(59 - k) + "#") != std::string::npos);
  BOOST_TEST(page.find("#9#") == std::string::npos);
  BOOST_TEST(shown[0].starts_with("<tr class=\"event bad\">"));  // tree-failed in red
  BOOST_TEST(shown[0].find("2025-11-30 11:59:59 UTC<div class=\"sub\">1s ago</div>") !=
             std::string::npos);
  BOOST_TEST(shown[1].starts_with("<tr class=\"event\">"));

  PageOptions few;
  few.max_events = 3;
  few.refresh_seconds = 0;
  const std::string small = renderStatusPage(forest(), events, few);
  BOOST_TEST(rows(small, "event").size() == 3u);
  BOOST_TEST(small.find("http-equiv=\"refresh\"") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(an_empty_fleet_is_a_complete_page) {
  StatusSnapshot s;
  s.taken_realtime_usec = kNow;
  s.vigild.version = "0.1.0";
  s.vigild.config = "/etc/vigil/vigil.yaml";
  const std::string page = renderStatusPage(s, {});
  checkOnlyOwnTags(page);
  checkUtf8(page);
  BOOST_TEST(page.starts_with("<!DOCTYPE html>"));
  BOOST_TEST(page.ends_with("</html>\n"));
  BOOST_TEST(page.find("<p id=\"no-trees\">No trees configured (add them to "
                       "<code>/etc/vigil/vigil.yaml</code>") != std::string::npos);
  BOOST_TEST(page.find("<p id=\"no-events\"") != std::string::npos);
  BOOST_TEST(rows(page, "").empty());
  BOOST_TEST(page.find("<section") == std::string::npos);
  BOOST_TEST(page.find("vigild 0.1.0 <span class=\"st st-starting\">starting</span>") !=
             std::string::npos);
}

// A thousand workers: every row is there, and the text grows linearly (each row is about
// the same size; a per-worker cost that grew with the fleet would show in the time, which is
// printed, not asserted: this runs under sanitizers on shared machines).
BOOST_AUTO_TEST_CASE(a_large_fleet_renders_every_row) {
  const auto fleet = [](std::uint32_t n) {
    StatusSnapshot s;
    s.taken_realtime_usec = kNow;
    addSupervisor(s, "big", 0, "running");
    for (std::uint32_t i = 1; i <= n; ++i) {
      auto& w = addWorker(s, "big", "w", 0, i, "running");
      w.memory_current_bytes = 10ULL << 20;
      w.memory_max_bytes = 100ULL << 20;
    }
    return s;
  };
  const auto t0 = std::chrono::steady_clock::now();
  const std::string page = renderStatusPage(fleet(1000), {});
  const auto t1 = std::chrono::steady_clock::now();
  const std::string bigger = renderStatusPage(fleet(4000), {});
  const auto t2 = std::chrono::steady_clock::now();
  const auto workers = rows(page, "worker");
  BOOST_REQUIRE(workers.size() == 1000u);
  BOOST_TEST(attribute(workers.front(), "data-path") == "big/w@1");
  BOOST_TEST(attribute(workers.back(), "data-path") == "big/w@1000");
  BOOST_TEST(rows(bigger, "worker").size() == 4000u);
  const double per_row = static_cast<double>(bigger.size() - page.size()) / 3000;
  BOOST_TEST(per_row < 1024.0);  // within the reserve per worker: one allocation
  BOOST_TEST_MESSAGE("1000 workers: " << page.size() << " bytes in "
                                      << std::chrono::duration<double>(t1 - t0).count()
                                      << " s; 4000: " << bigger.size() << " bytes in "
                                      << std::chrono::duration<double>(t2 - t1).count() << " s");
}

BOOST_AUTO_TEST_CASE(times_are_utc) {
  BOOST_TEST(utcTime(0) == "1970-01-01 00:00:00 UTC");
  BOOST_TEST(utcTime(kNow) == "2025-11-30 12:00:00 UTC");
  BOOST_TEST(utcTime(kNow + 999'999) == "2025-11-30 12:00:00 UTC");  // rounded down
  BOOST_TEST(utcTime(-1) == "1969-12-31 23:59:59 UTC");
  BOOST_TEST(utcTime(951'782'400'000'000) == "2000-02-29 00:00:00 UTC");
  BOOST_TEST(utcTime(4'107'542'399'000'000) == "2100-02-28 23:59:59 UTC");
  BOOST_TEST(utcTime(4'107'542'400'000'000) == "2100-03-01 00:00:00 UTC");  // not a leap year
  // The extremes have a date, not an overflow (UBSan would stop here).
  BOOST_TEST(!utcTime(std::numeric_limits<std::int64_t>::max()).empty());
  BOOST_TEST(!utcTime(std::numeric_limits<std::int64_t>::min()).empty());
}

BOOST_AUTO_TEST_SUITE_END()
