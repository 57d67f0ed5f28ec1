#pragma once
// The read-only status page vigild serves at `/` on its metrics listener (vigild(8), HTTP):
// one HTML5 document composed from a StatusSnapshot and the recent events, with inline CSS
// only (no script, no external resource: the page is served with
// `Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'`) and
// `<meta http-equiv="refresh">` to reload itself. Pure: no I/O, no clock (the time is the
// snapshot's `taken_realtime_usec`), no time zone (times are UTC).
//
// Every string taken from the snapshot or the events is written through appendHtmlEscaped:
// a worker's exit description, health detail, a configuration error or an event message
// can carry any text (an exec check's first line of output, a rejected key), and none of
// it may become markup.
//
// What scripts and tests may rely on (anything else is presentation and may change):
// - each supervisor is a `<tr class="supervisor ..." data-path="PATH">`, each worker a
//   `<tr class="worker ..." data-path="PATH">`, in supervision order (vigilctl status's
//   tree order: depth first, children by position, then instance); each tree is a
//   `<section class="tree" data-tree="TREE">`;
// - a worker's or supervisor's state is the text of its `<span class="st st-STATE">`;
// - each event is a `<tr class="event">` in the table with id "events", newest first.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "status/StatusSnapshot.h"

namespace vigil::status {

struct PageOptions {
  // The newest events shown (of those handed in); older ones are left out.
  std::size_t max_events = 50;
  // Seconds between the page's reloads of itself; 0: no refresh.
  unsigned refresh_seconds = 5;
};

// Appends `text` to `out`, safe as HTML text and inside a quoted attribute value:
// & < > " ' become &amp; &lt; &gt; &quot; &#39;; a byte sequence that is not well-formed
// UTF-8 (RFC 3629, Unicode table 3-7: no overlong forms, no surrogates, nothing above
// U+10FFFF, no truncated sequence) becomes one U+FFFD per maximal ill-formed subpart (as
// browsers decode it); NUL, the other C0 controls except tab, LF and CR, and DEL become
// U+FFFD (the HTML parser would reject or drop them). Everything else is copied.
void appendHtmlEscaped(std::string& out, std::string_view text);
// appendHtmlEscaped into a new string.
std::string htmlEscaped(std::string_view text);

// How full a memory bar is: `current` as a share of `limit` in tenths of a percent,
// rounded down, at most 1000 (a cgroup can be above a memory.max that was just lowered).
// nullopt when `limit` is 0 (no bar can be drawn against it). Exact for any 64-bit values.
std::optional<unsigned> memoryPermille(std::uint64_t current, std::uint64_t limit);

// CLOCK_REALTIME usec as "2026-11-30 12:01:02 UTC" (proleptic Gregorian; a time before
// 1970 is written as such, never an error).
std::string utcTime(std::int64_t realtime_usec);

// The whole page (a complete HTML5 document, UTF-8) for `snapshot` and `recent_events`
// (oldest first, as the API's ListEvents and daemon::RecentEvents::last return them; the
// newest `options.max_events` are shown, newest first): vigild's summary (version,
// readiness, configuration generation and last reload, the host's totals) with the
// last-good fallback, a rejected reload's errors and a state directory error in red; each
// tree as a table in supervision order, a supervisor with its strategy, intensity window,
// slice and budget, a worker with its path, state, health, unit, MainPID, uptime or next
// restart, restarts, memory against memory_max (a CSS bar), CPU, and last exit with its
// decision; then the events. The figures are whatever the snapshot carries (vigild's:
// the sampler's last sweep). Size: linear in workers + supervisors + events shown.
std::string renderStatusPage(const StatusSnapshot& snapshot,
                             const std::vector<EventView>& recent_events,
                             const PageOptions& options = {});

}  // namespace vigil::status
