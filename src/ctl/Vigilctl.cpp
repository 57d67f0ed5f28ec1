#include "ctl/Vigilctl.h"

#include <langinfo.h>
#include <locale.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "api/ApiClient.h"
#include "api/Names.h"
#include "config/ConfigCheck.h"
#include "config/LimitSettings.h"
#include "core/Duration.h"
#include "core/Engine.h"
#include "ctl/Format.h"
#include "ctl/Journal.h"
#include "ctl/Pager.h"
#include "ctl/Render.h"
#include "ctl/Top.h"
#include "ctl/TopScreen.h"
#include "doctor/Doctor.h"
#include "doctor/HostFacts.h"
#include "status/StatusJson.h"
#include "util/BuildInfo.h"

namespace vigil::ctl {

namespace {

constexpr const char* kCommands =
    "status, start, stop, restart, kill, freeze, thaw, set, scale, reload, reset, logs, events, "
    "check-config, doctor, list-targets, version";

int usage(const std::string& message) {
  std::fprintf(stderr, "vigilctl: %s\nTry 'vigilctl --help'.\n", message.c_str());
  return kExitUsage;
}

// One line on stderr, and the exit code the error calls for.
int failWith(const util::Error& e, const std::string& what = "") {
  const std::string& n = e.name();
  int code = kExitFailed;
  if (n == api::kErrorAccessDenied) {
    code = kExitDenied;
  } else if (n == core::kErrorUnknownTarget) {
    code = kExitUnknownTarget;
  } else if (n == core::kErrorInvalidArgument || n == "org.freedesktop.DBus.Error.InvalidArgs") {
    code = kExitUsage;
  } else if (n == "org.freedesktop.DBus.Error.ServiceUnknown" ||
             n == "org.freedesktop.DBus.Error.NameHasNoOwner" ||
             n == "org.freedesktop.DBus.Error.NoReply" ||
             n == "org.freedesktop.DBus.Error.Disconnected" ||
             n == "org.freedesktop.DBus.Error.UnknownObject" ||
             n == "org.freedesktop.DBus.Error.UnknownMethod" ||
             // A local error (sd-bus names errno errors System.Error.E*): the bus, or the
             // SSH transport of -H, is not there.
             ((n.empty() || n.starts_with("System.Error.")) &&
              (e.code() == ECONNREFUSED || e.code() == ENOENT || e.code() == ECONNRESET ||
               e.code() == ENOTCONN || e.code() == ETIMEDOUT || e.code() == EHOSTUNREACH ||
               e.code() == ENXIO || e.code() == EPIPE || e.code() == ESHUTDOWN ||
               e.code() == ECONNABORTED))) {
    code = kExitUnreachable;
  }
  std::string message = e.message();
  if (code == kExitUnreachable && (n.find("ServiceUnknown") != std::string::npos ||
                                   n.find("NameHasNoOwner") != std::string::npos))
    message = "vigild is not running (no owner of org.vigil.Vigil1 on the bus)";
  else if (code == kExitUnreachable && n.find("UnknownMethod") != std::string::npos)
    message = "vigild does not know this call (" + e.message() + "); is it an older version?";
  else if (code == kExitUnreachable)
    message = "cannot reach vigild: " + message;
  // The engine's and the config's messages may span lines (file:line:col errors).
  std::fprintf(stderr, "vigilctl: %s%s\n", what.empty() ? "" : (what + ": ").c_str(),
               message.c_str());
  return code;
}

bool utf8Terminal() {
  const char* cs = nl_langinfo(CODESET);
  return cs && std::string(cs) == "UTF-8";
}

Style styleFor(std::FILE* f) {
  Style s;
  const char* term = std::getenv("TERM");
  s.color = isatty(fileno(f)) && !std::getenv("NO_COLOR") && !(term && std::string(term) == "dumb");
  return s;
}

std::int64_t realtimeNow() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
}

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// `logs` and `events` over -H: the journal is on the other host, so the command runs
// there (as `ssh HOST vigilctl ...`), streaming its output back.
int runRemote(const std::string& host, int argc, char** argv) {
  std::string remote = "vigilctl";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-H" || a == "--host") {
      ++i;
      continue;
    }
    if (a.starts_with("--host=") || (a.starts_with("-H") && a.size() > 2)) continue;
    remote += " " + shellQuote(a);
  }
  if (isatty(STDOUT_FILENO)) remote += " --no-pager";
  std::string h = host;
  std::string port;
  // [user@]host[:port], as systemctl -H takes it.
  if (auto colon = h.rfind(':'); colon != std::string::npos && h.find(']') == std::string::npos) {
    port = h.substr(colon + 1);
    h = h.substr(0, colon);
  }
  std::vector<std::string> args = {"ssh", "-xT"};
  if (!port.empty()) {
    args.push_back("-p");
    args.push_back(port);
  }
  args.push_back("--");
  args.push_back(h);
  args.push_back(remote);
  std::vector<char*> cargs;
  for (auto& a : args) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  std::fflush(stdout);
  execvp("ssh", cargs.data());
  std::fprintf(stderr, "vigilctl: cannot run ssh for -H %s: %s\n", host.c_str(),
               std::strerror(errno));
  return kExitUnreachable;
}

struct Ctx {
  std::string host;
  bool no_pager = false;
  std::unique_ptr<api::ApiClient> client;

  util::Result<api::ApiClient*> connect() {
    if (client) return client.get();
    auto c = api::ApiClient::connect(
        host, std::getenv("VIGIL_BUS_ADDRESS") ? std::getenv("VIGIL_BUS_ADDRESS") : "");
    if (!c) return tl::unexpected(c.error());
    client = std::move(*c);
    return client.get();
  }
};

// Runs a command and, unless no_block, waits for its end. Prints the outcome.
int runOperation(Ctx& ctx,
                 bool no_block,
                 const std::function<util::Result<api::Accepted>(api::ApiClient&)>& call,
                 const std::string& note = "") {
  auto c = ctx.connect();
  if (!c) return failWith(c.error());
  if (!no_block) {
    if (auto w = (*c)->watchOperations(); !w) return failWith(w.error());
  }
  auto accepted = call(**c);
  if (!accepted) return failWith(accepted.error());
  if (accepted->operation == 0) {
    std::printf("%s\n", accepted->message.c_str());
    return kExitOk;
  }
  if (no_block) {
    std::printf("%s (operation %llu, not waiting)\n", accepted->message.c_str(),
                static_cast<unsigned long long>(accepted->operation));
    if (!note.empty()) std::printf("%s\n", note.c_str());
    return kExitOk;
  }
  auto done = (*c)->wait(accepted->operation);
  if (!done) return failWith(done.error(), "waiting for the operation");
  if (!done->ok) {
    std::fprintf(stderr, "vigilctl: %s\n", done->message.c_str());
    return kExitFailed;
  }
  std::printf("%s\n", done->message.c_str());
  if (!note.empty()) std::printf("%s\n", note.c_str());
  return kExitOk;
}

std::string logLine(const LogEntry& e, bool with_path) {
  return fmt::format("{} {}[{}]: {}", shortTime(e.realtime_usec), with_path ? e.worker : e.unit,
                     e.pid, e.message);
}

int doTop(Ctx& ctx, double delay_seconds) {
  auto c = ctx.connect();
  if (!c) return failWith(c.error());
  api::ApiClient* client = *c;
  if (!isatty(STDOUT_FILENO) || !isatty(STDIN_FILENO)) {
    // A pipe or a file: one table, no screen handling.
    auto snap = client->status("");
    if (!snap) return failWith(snap.error());
    std::printf("%s\n", topHeader(*snap, TopSort::Tree).c_str());
    for (const auto& line : topTable(topRows(*snap, TopSort::Tree), 0))
      std::printf("%s\n", line.c_str());
    return kExitOk;
  }
  TopScreen screen([client]() { return client->status(""); },
                   std::chrono::milliseconds(static_cast<std::int64_t>(delay_seconds * 1000)));
  return screen.run() == 0 ? kExitOk : kExitFailed;
}

// Sparkline width: one point per column.
constexpr std::uint32_t kHistoryPoints = 40;

int doHistory(Ctx& ctx, const std::string& target, const std::string& range_text, bool json) {
  const auto range = core::parseDuration(range_text);
  if (!range || range->count() <= 0 || *range == core::Usec::max()) {
    std::fprintf(stderr,
                 "vigilctl: --history: expected a positive duration like 5m or 1h, found '%s'\n",
                 range_text.c_str());
    return kExitUsage;
  }
  auto c = ctx.connect();
  if (!c) return failWith(c.error());
  auto h = (*c)->history(target, static_cast<std::uint64_t>(range->count()), kHistoryPoints);
  if (!h) return failWith(h.error());
  if (json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& v : *h) arr.push_back(status::toJson(v));
    std::printf("%s\n", arr.dump(2).c_str());
    return kExitOk;
  }
  RenderOptions ro;
  ro.style = styleFor(stdout);
  ro.unicode = utf8Terminal();
  if (h->empty()) {
    std::printf("no history for %s yet (the sampler has not read it)\n",
                target.empty() ? "anything" : target.c_str());
    return kExitOk;
  }
  Pager pager;
  pager.start(!ctx.no_pager);
  std::fputs(renderHistory(*h, ro).c_str(), stdout);
  return kExitOk;
}

int doStatus(Ctx& ctx, const std::string& target, bool json) {
  auto c = ctx.connect();
  if (!c) return failWith(c.error());
  auto snap = (*c)->status(target);
  if (!snap) return failWith(snap.error());
  if (json) {
    std::printf("%s\n", status::toJson(*snap).dump(2).c_str());
    return kExitOk;
  }
  Pager pager;
  pager.start(!ctx.no_pager);
  RenderOptions ro;
  ro.style = styleFor(stdout);
  ro.unicode = utf8Terminal();
  // A worker target (all its instances, or one): the detailed view of each instance.
  bool is_supervisor = target.empty();
  for (const auto& s : snap->supervisors)
    if (s.path == target) is_supervisor = true;
  if (is_supervisor) {
    std::fputs(renderTree(*snap, ro).c_str(), stdout);
    return kExitOk;
  }
  std::unique_ptr<Journal> journal;
  std::string journal_error;
  if (ctx.host.empty()) {
    auto j = Journal::open();
    if (j) {
      journal = std::move(*j);
    } else {
      journal_error = j.error().message();
    }
  }
  bool first = true;
  for (const auto& w : snap->workers) {
    if (!withinTarget(w.path, target)) continue;
    const status::SupervisorView* sup = nullptr;
    for (const auto& s : snap->supervisors)
      if (s.path == w.supervisor) sup = &s;
    std::vector<std::string> lines;
    std::string note;
    if (!ctx.host.empty()) {
      note = fmt::format("Output: in the journal of {} (vigilctl -H {} logs {})", ctx.host,
                         ctx.host, w.path);
    } else if (!journal) {
      note = "Output: cannot read the journal: " + journal_error;
    } else {
      Journal::Query q;
      q.target = w.path;
      q.lines = 10;
      auto logs = journal->logs(q);
      if (!logs) {
        note = "Output: cannot read the journal: " + logs.error().message();
      } else {
        const auto hint = logs->empty() ? Journal::accessHint() : std::nullopt;
        note = hint            ? "Output: none readable; " + hint->substr(6)
               : logs->empty() ? "Output: none in the journal"
                               : "Output (last 10 lines):";
        for (const auto& e : *logs) lines.push_back(logLine(e, false));
      }
    }
    if (!first) std::fputs("\n", stdout);
    first = false;
    std::fputs(renderWorker(w, sup, lines, note, ro).c_str(), stdout);
  }
  return kExitOk;
}

// The status of `target` from vigild, when it can be reached: it checks the target
// (unknown: exit 4) and says which workers it covers. nullopt (and no error) when vigild
// is not reachable: the journal is read anyway.
struct TargetCheck {
  int exit_code = -1;  // >= 0: stop with this code
  bool reachable = false;
};
TargetCheck checkTarget(Ctx& ctx, const std::string& target) {
  TargetCheck out;
  auto c = ctx.connect();
  if (!c) return out;
  if (target.empty()) {
    out.reachable = (*c)->info().has_value();
    return out;
  }
  auto snap = (*c)->status(target);
  if (snap) {
    out.reachable = true;
    return out;
  }
  const std::string& n = snap.error().name();
  if (n == core::kErrorUnknownTarget || n == api::kErrorAccessDenied)
    out.exit_code = failWith(snap.error());
  return out;
}

int doLogs(Ctx& ctx,
           const std::string& target,
           std::optional<std::size_t> lines,
           bool follow,
           const std::string& since,
           const std::string& output) {
  if (output != "short" && output != "json")
    return usage(fmt::format("-o {}: expected short or json", output));
  Journal::Query q;
  q.target = target;
  q.lines = lines.value_or(10);
  q.with_fields = output == "json";
  if (!since.empty()) {
    q.since = parseSince(since, realtimeNow());
    if (!q.since)
      return usage(
          fmt::format("--since '{}': expected a time like '2026-11-30 12:00', 'today', "
                      "'yesterday' or '-1h'",
                      since));
    if (!lines) q.lines = 0;
  }
  const TargetCheck check = checkTarget(ctx, target);
  if (check.exit_code >= 0) return check.exit_code;
  auto journal = Journal::open();
  if (!journal) return failWith(journal.error());
  if (auto hint = Journal::accessHint()) std::fprintf(stderr, "%s\n", hint->c_str());
  const auto print = [&](const LogEntry& e) {
    if (output == "json") {
      nlohmann::json j = nlohmann::json::object();
      for (const auto& [k, v] : e.fields) j[k] = v;
      std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("%s\n", logLine(e, true).c_str());
    }
    return true;
  };
  Pager pager;
  if (!follow) pager.start(!ctx.no_pager);
  auto entries = (*journal)->logs(q);
  if (!entries) return failWith(entries.error());
  for (const auto& e : *entries) print(e);
  if (!follow) return kExitOk;
  std::fflush(stdout);
  auto r = (*journal)->followLogs(q, [&](const LogEntry& e) {
    print(e);
    std::fflush(stdout);
    return true;
  });
  if (!r) return failWith(r.error());
  return kExitOk;
}

int doEvents(Ctx& ctx,
             const std::string& target,
             std::optional<std::size_t> lines,
             bool follow,
             const std::string& since,
             bool json) {
  Journal::Query q;
  q.target = target;
  q.lines = lines.value_or(20);
  if (!since.empty()) {
    q.since = parseSince(since, realtimeNow());
    if (!q.since)
      return usage(
          fmt::format("--since '{}': expected a time like '2026-11-30 12:00', 'today', "
                      "'yesterday' or '-1h'",
                      since));
    if (!lines) q.lines = 0;
  }
  const TargetCheck check = checkTarget(ctx, target);
  if (check.exit_code >= 0) return check.exit_code;
  if (follow) {
    if (!check.reachable) {
      std::fprintf(stderr, "vigilctl: vigild is not running: cannot follow events\n");
      return kExitUnreachable;
    }
    // Subscribed before the history is read: nothing falls in between.
    if (auto w = ctx.client->watchEvents(); !w) return failWith(w.error());
  }
  const Style style = styleFor(stdout);
  const auto print = [&](const status::EventView& e) {
    if (json) {
      std::printf(
          "%s\n",
          status::toJson(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    } else {
      std::printf("%s\n", renderEvent(e, style).c_str());
    }
  };
  Pager pager;
  if (!follow) pager.start(!ctx.no_pager);
  auto journal = Journal::open();
  if (auto hint = Journal::accessHint()) std::fprintf(stderr, "%s\n", hint->c_str());
  std::vector<status::EventView> history;
  if (journal) {
    auto h = (*journal)->events(q);
    if (!h) return failWith(h.error());
    history = std::move(*h);
  } else if (!follow) {
    return failWith(journal.error());
  }
  for (const auto& e : history) print(e);
  if (!follow) return kExitOk;
  std::fflush(stdout);
  // An event both in the history and on the bus (it happened while the history was read)
  // is printed once.
  const auto seen = [&](const status::EventView& e) {
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      if (e.at_realtime_usec - it->at_realtime_usec > 5'000'000) break;
      if (it->type == e.type && it->message == e.message && it->worker == e.worker) return true;
    }
    return false;
  };
  auto r = ctx.client->followEvents([&](const status::EventView& e) {
    const std::string& path = !e.worker.empty() ? e.worker : e.supervisor;
    if (!target.empty() && (path.empty() || !withinTarget(path, target))) return true;
    if (seen(e)) return true;
    print(e);
    std::fflush(stdout);
    return true;
  });
  if (!r) return failWith(r.error());
  return kExitOk;
}

int doReload(Ctx& ctx, bool dry_run) {
  auto c = ctx.connect();
  if (!c) return failWith(c.error());
  auto answer = (*c)->reload(dry_run);
  if (!answer) {
    if (answer.error().name() == api::kErrorInvalidConfig) {
      std::fprintf(stderr, "%s\nvigilctl: the configuration is invalid; nothing changed\n",
                   answer.error().message().c_str());
      return kExitFailed;
    }
    return failWith(answer.error());
  }
  for (const auto& w : answer->warnings) std::fprintf(stderr, "%s\n", w.c_str());
  for (const auto& line : answer->plan) std::printf("%s\n", line.c_str());
  if (answer->applied) {
    std::printf("applied (configuration generation %u)\n", answer->generation);
  } else {
    std::printf("dry run: nothing changed\n");
  }
  return kExitOk;
}

std::string lifetimeNote(Ctx& ctx) {
  std::string file = "the configuration file";
  if (ctx.client) {
    if (auto info = ctx.client->info()) file = info->config;
  }
  return fmt::format("note: this lasts until the next reload unless you also write it to {}", file);
}

int doVersion(Ctx& ctx) {
  std::printf("vigilctl %s\n", util::kVersion);
  auto c = ctx.connect();
  if (!c) return kExitOk;
  auto info = (*c)->info();
  if (info) {
    std::printf("vigild %s (pid %u%s)\n", info->version.c_str(), info->pid,
                ctx.host.empty() ? "" : (", on " + ctx.host).c_str());
  }
  return kExitOk;
}

}  // namespace

int run(int argc, char** argv) {
  setlocale(LC_ALL, "");
  CLI::App app{"vigilctl: see and control the vigil supervision agent (vigilctl(1))"};
  app.set_version_flag("--version", fmt::format("vigilctl {}", util::kVersion),
                       "print the version and exit");
  app.require_subcommand(0, 1);
  app.fallthrough();
  Ctx ctx;
  app.add_option("-H,--host", ctx.host, "talk to vigild on [USER@]HOST[:PORT] over SSH");
  app.add_flag("--no-pager", ctx.no_pager, "do not pipe the output into a pager");

  std::string target, since, output = "short", check_file, signal_text = "SIGTERM", count_text,
                             history_text;
  bool json = false, no_block = false, rolling = false, main_only = false, follow = false,
       dry_run = false, no_host_checks = false;
  std::optional<std::size_t> lines;
  std::vector<std::string> settings, tier_dirs;

  const auto targetArg = [&](CLI::App* sub, bool required) {
    auto* o = sub->add_option("target", target,
                              "a supervisor (tree, tree/sub), a worker (tree/worker) or one "
                              "instance (tree/worker@2)");
    if (required) o->required();
  };
  const auto noBlock = [&](CLI::App* sub) {
    sub->add_flag("--no-block", no_block, "do not wait until the operation has finished");
  };
  auto* st = app.add_subcommand("status", "show the trees, or one worker in detail");
  targetArg(st, false);
  st->add_flag("--json", json, "print one JSON document (vigilctl(1), JSON OUTPUT)");
  st->add_option("--history", history_text,
                 "min, avg, max and a sparkline of each cgroup metric over the last RANGE "
                 "(e.g. 5m, 1h; at most metrics.history)")
      ->type_name("RANGE");
  double top_delay = 2;
  auto* top = app.add_subcommand(
      "top", "live CPU, memory, tasks, IO and pressure of the tree (a table when not a TTY)");
  top->add_option("-d,--delay", top_delay, "seconds between updates (default 2)")
      ->check(CLI::Range(0.2, 3600.0));
  auto* start = app.add_subcommand("start", "start a supervisor or worker (OTP start order)");
  targetArg(start, true);
  noBlock(start);
  auto* stop = app.add_subcommand("stop", "stop it (reverse order); it stays down");
  targetArg(stop, true);
  noBlock(stop);
  auto* restart = app.add_subcommand("restart", "stop then start it, not counted as a failure");
  targetArg(restart, true);
  restart->add_flag("--rolling", rolling,
                    "one instance or child at a time, each up before the next");
  noBlock(restart);
  auto* kill = app.add_subcommand("kill", "send a signal to a worker's processes");
  targetArg(kill, true);
  kill->add_option("-s,--signal", signal_text, "signal name or number")->capture_default_str();
  kill->add_flag("--main", main_only, "only the main process (default: the whole cgroup)");
  noBlock(kill);
  auto* freeze = app.add_subcommand("freeze", "suspend it (cgroup.freeze)");
  targetArg(freeze, true);
  noBlock(freeze);
  auto* thaw = app.add_subcommand("thaw", "resume a frozen one");
  targetArg(thaw, true);
  noBlock(thaw);
  auto* set =
      app.add_subcommand("set", "change limits live: KEY=VALUE as in limits: of vigil.yaml");
  targetArg(set, true);
  set->add_option("settings", settings,
                  "KEY=VALUE with KEY one of memory_max memory_high cpu_quota cpu_weight "
                  "tasks_max io_weight (infinity removes a limit)")
      ->required();
  noBlock(set);
  auto* scale = app.add_subcommand("scale", "change a worker's instance count live");
  targetArg(scale, true);
  scale->add_option("instances", count_text, "the new count, 1 to 1000")->required();
  noBlock(scale);
  auto* reload = app.add_subcommand("reload", "re-read the configuration and apply the changes");
  reload->add_flag("--dry-run", dry_run, "only print the plan");
  auto* reset = app.add_subcommand("reset", "start a failed supervisor afresh");
  reset->add_option("target", target, "a supervisor (tree, tree/sub)")->required();
  noBlock(reset);
  auto* logs = app.add_subcommand("logs", "the output of workers, from the journal");
  targetArg(logs, true);
  logs->add_option("-n,--lines", lines, "the last N lines (default 10)");
  logs->add_flag("-f,--follow", follow, "then wait for new lines");
  logs->add_option("--since", since, "from this time: '2026-11-30 12:00', today, -1h ...");
  logs->add_option("-o,--output", output, "short or json")->capture_default_str();
  auto* events = app.add_subcommand("events", "supervision events, from the journal");
  targetArg(events, false);
  events->add_option("-n,--lines", lines, "the last N events (default 20)");
  events->add_flag("-f,--follow", follow, "then print new events as they happen");
  events->add_option("--since", since, "from this time: '2026-11-30 12:00', today, -1h ...");
  events->add_flag("--json", json, "one JSON object per line");
  auto* cc = app.add_subcommand("check-config", "validate a configuration file");
  cc->add_option("file", check_file, "file to check (default /etc/vigil/vigil.yaml)");
  cc->add_option("--tier-dir", tier_dirs,
                 fmt::format("directory holding tier_N.yaml (repeatable); default: the 'tiers' "
                             "directory next to FILE, then {}/tiers, then {}",
                             util::kSysconfDir, util::kTierDir))
      // One directory per --tier-dir, so that `--tier-dir DIR FILE` does not take FILE.
      ->allow_extra_args(false);
  cc->add_flag("--no-host-checks", no_host_checks,
               "do not look up users, groups, directories and executables on this host");
  std::string doctor_config;
  auto* doctor = app.add_subcommand(
      "doctor", "check this host and vigild: one line per check with its fix (vigilctl(1))");
  doctor->add_flag("--json", json, "print the checks as JSON");
  doctor->add_option("-c,--config", doctor_config,
                     "the configuration file to check (default: the one vigild runs)");
  auto* lt = app.add_subcommand("list-targets", "every path a command can name (for scripts)");
  auto* version = app.add_subcommand("version", "print the versions of vigilctl and vigild");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    if (app.get_subcommands().empty()) {
      for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-H" || a == "--host") {
          ++i;
          continue;
        }
        if (!a.starts_with("-"))
          return usage(fmt::format("unknown command '{}'; commands: {}", a, kCommands));
      }
    }
    return usage(e.what());
  } catch (const CLI::ParseError& e) {
    return usage(e.what());
  }
  if (app.get_subcommands().empty())
    return usage(fmt::format("a command is required; commands: {}", kCommands));

  // These read this host's journal, files and PID 1: on another host, vigilctl runs there.
  if (!ctx.host.empty() && (logs->parsed() || events->parsed() || cc->parsed() || doctor->parsed()))
    return runRemote(ctx.host, argc, argv);

  const auto op = [&](const std::function<util::Result<api::Accepted>(api::ApiClient&)>& call,
                      const std::string& note = "") {
    return runOperation(ctx, no_block, call, note);
  };
  if (version->parsed()) return doVersion(ctx);
  if (top->parsed()) return doTop(ctx, top_delay);
  if (st->parsed() && !history_text.empty()) return doHistory(ctx, target, history_text, json);
  if (st->parsed()) return doStatus(ctx, target, json);
  if (start->parsed()) return op([&](api::ApiClient& c) { return c.start(target); });
  if (stop->parsed()) return op([&](api::ApiClient& c) { return c.stop(target); });
  if (restart->parsed()) return op([&](api::ApiClient& c) { return c.restart(target, rolling); });
  if (reset->parsed()) return op([&](api::ApiClient& c) { return c.reset(target); });
  if (freeze->parsed()) return op([&](api::ApiClient& c) { return c.freeze(target, true); });
  if (thaw->parsed()) return op([&](api::ApiClient& c) { return c.freeze(target, false); });
  if (kill->parsed()) {
    const auto sig = parseSignal(signal_text);
    if (!sig) return usage(fmt::format("-s {}: not a signal name or number", signal_text));
    return op([&](api::ApiClient& c) { return c.kill(target, *sig, main_only); });
  }
  if (set->parsed()) {
    std::vector<std::pair<std::string, std::string>> kv;
    for (const auto& text : settings) {
      auto one = config::splitSetting(text);
      if (!one) return usage(one.error());
      kv.push_back(*one);
    }
    if (auto limits = config::parseLimitSettings(kv); !limits) return usage(limits.error());
    if (auto c = ctx.connect(); !c) return failWith(c.error());
    return op([&](api::ApiClient& c) { return c.setLimits(target, kv); }, lifetimeNote(ctx));
  }
  if (scale->parsed()) {
    const bool digits = !count_text.empty() && count_text.size() <= 4 &&
                        count_text.find_first_not_of("0123456789") == std::string::npos;
    const int n = digits ? std::atoi(count_text.c_str()) : -1;
    if (n < 1 || n > 1000)
      return usage(fmt::format("scale {} {}: expected an instance count from 1 to 1000", target,
                               count_text));
    if (auto c = ctx.connect(); !c) return failWith(c.error());
    return op([&](api::ApiClient& c) { return c.scale(target, static_cast<std::uint32_t>(n)); },
              lifetimeNote(ctx));
  }
  if (reload->parsed()) return doReload(ctx, dry_run);
  if (logs->parsed()) return doLogs(ctx, target, lines, follow, since, output);
  if (events->parsed()) return doEvents(ctx, target, lines, follow, since, json);
  if (lt->parsed()) {
    auto c = ctx.connect();
    if (!c) return failWith(c.error());
    auto t = (*c)->targets();
    if (!t) return failWith(t.error());
    for (const auto& x : *t) std::printf("%s\n", x.c_str());
    return kExitOk;
  }
  if (doctor->parsed()) {
    doctor::GatherOptions go;
    go.config_file = doctor_config;
    if (const char* tier = std::getenv("VIGIL_TIER"); tier && *tier) go.tier_override = tier;
    if (const char* bus = std::getenv("VIGIL_BUS_ADDRESS"); bus && *bus) go.bus_address = bus;
    const auto checks = doctor::evaluate(doctor::gather(go));
    if (json) {
      std::printf("%s\n", doctor::toJson(checks).dump(2).c_str());
    } else {
      std::fputs(doctor::formatText(checks, styleFor(stdout).color).c_str(), stdout);
    }
    return doctor::passed(checks) ? kExitOk : kExitFailed;
  }
  if (cc->parsed()) {
    config::CheckOptions co;
    co.file = check_file.empty() ? std::filesystem::path("/etc/vigil/vigil.yaml")
                                 : std::filesystem::path(check_file);
    co.tier_dirs.assign(tier_dirs.begin(), tier_dirs.end());
    if (const char* tier = std::getenv("VIGIL_TIER"); tier && *tier) co.tier_override = tier;
    co.host_checks = !no_host_checks;
    return config::checkConfig(co, stdout, stderr) == 0 ? kExitOk : kExitFailed;
  }
  return kExitOk;
}

}  // namespace vigil::ctl
