#!/bin/bash
# The status page on the metrics listener (issue 11) against real workers and a real
# browser: / is HTML with its security headers and a row per worker; /api/v1/status is the
# document of `vigilctl status --json` (same schema, same workers, states and units); text
# from a health check's output arrives escaped; headless Chromium renders the page (the DOM
# it built has every worker and no element made from that text) and its screenshot is
# 1280 pixels wide, of many colours, with the memory bar's green drawn (the inline CSS was
# applied under the page's Content-Security-Policy). A worker cannot be named like markup.
# vm-timeout: 900
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

url=http://127.0.0.1:9753
work=/tmp/vigil-status-page
rm -rf "$work" /run/vigil-page-crashed
mkdir -p "$work"
cleanup() {
    rm -rf "$work" /run/vigil-page-crashed
}
trap cleanup EXIT

# Two trees. front/flaky exits 3 once, then runs; front/web is killed once below; front/mem
# holds 16 MB of its 64 MB (a green bar: under 70 %); front/probe's exec check fails with
# markup, quotes and an apostrophe in its output (its first line becomes the health detail).
result=$(vigil_apply <<YAML
tier: tier_2
metrics: {interval: 1s, listen: 127.0.0.1:9753}
trees:
  front:
    strategy: one_for_one
    intensity: {max_restarts: 20, period: 10min}
    children:
      - name: web
        command: [$VIGIL_WORKER_BIN]
        limits: {memory_max: 256M}
        backoff: {initial: 500ms, max: 2s, jitter: 0}
      - name: flaky
        command: [/bin/sh, -c, 'if [ -e /run/vigil-page-crashed ]; then exec sleep infinity; fi; touch /run/vigil-page-crashed; sleep 2; exit 3']
        backoff: {initial: 500ms, max: 2s, jitter: 0}
      - name: mem
        command: [/usr/bin/python3, -c, "import time; b = b'x' * (16 << 20); time.sleep(1e6)"]
        limits: {memory_max: 64M}
      - name: probe
        command: [/bin/sleep, infinity]
        health:
          exec: [/bin/sh, -c, 'echo "<b>bold</b> & \"quoted\" it''s <script>alert(1)</script>"; exit 1']
          interval: 5s
          timeout: 5s
          failures: 1
          restart: false
  back:
    strategy: one_for_all
    children:
      - name: db
        command: [$VIGIL_WORKER_BIN]
        limits: {memory_max: 128M}
      - name: cache
        instances: 2
        command: [$VIGIL_WORKER_BIN]
YAML
)
assert_eq config-applied "$result" "reload result"
for u in vigil-front-web vigil-front-mem vigil-front-probe vigil-back-db vigil-back-cache@1 vigil-back-cache@2; do
    wait_unit_active "$u.service" 120
done
flaky_restarted() { [[ $(vigil_field workers front/flaky restarts) == 1 && $(vigil_field workers front/flaky state) == running ]]; }
wait_for 120 flaky_restarted
pid=$(main_pid vigil-front-web.service)
safe_kill KILL "$pid"
wait_pid_changes vigil-front-web.service "$pid" 120
web_restarted() { [[ $(vigil_field workers front/web restarts) == 1 && $(vigil_field workers front/web state) == running ]]; }
wait_for 60 web_restarted
probe_unhealthy() { [[ $(vigil_field workers front/probe health) == unhealthy ]]; }
wait_for 120 probe_unhealthy
detail=$(vigil_field workers front/probe health_detail)
[[ $detail == *'<b>bold</b> & "quoted" it'"'"'s <script>alert(1)</script>'* ]] ||
    fail "the exec check's output is not in the health detail: $detail"
pass_step "two trees up; front/flaky and front/web restarted once each; front/probe unhealthy: $detail"

# --- / : headers, a row per worker, the bar of front/mem once it was sampled ---------------
# The figures are the sampler's last sweep: wait until one has read front/mem.
mem_sampled() {
    curl -fsS --max-time 30 "$url/" -o "$work/page.html" &&
        grep -q '<tr class="worker" data-path="front/mem">.*class="fill ok" style="width:[0-9.]*%"' "$work/page.html"
}
wait_for 120 mem_sampled
curl -fsS --max-time 30 -D "$work/headers" -o "$work/page.html" "$url/"
header() { tr -d '\r' <"$work/headers" | awk -v n="$1" 'index(tolower($0), tolower(n) ": ") == 1 { sub(/^[^:]*: /, ""); print; exit }'; }
head -n 1 "$work/headers" | grep -q '^HTTP/1.1 200' || fail "GET /: $(head -n 1 "$work/headers")"
assert_eq "text/html; charset=utf-8" "$(header Content-Type)" "Content-Type of /"
assert_eq "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'" "$(header Content-Security-Policy)" "Content-Security-Policy of /"
assert_eq nosniff "$(header X-Content-Type-Options)" "X-Content-Type-Options of /"
assert_eq no-store "$(header Cache-Control)" "Cache-Control of /"
vigil_json >"$work/ctl.json"
mapfile -t paths < <(jq -r '.workers[].path' "$work/ctl.json")
assert_eq 7 "${#paths[@]}" "workers in vigilctl status --json"
python3 - "$work/page.html" "$work/ctl.json" <<'PY' || fail "the page does not show the workers as vigilctl status --json does (above)"
import html, json, re, sys
page = open(sys.argv[1], encoding="utf-8").read()
d = json.load(open(sys.argv[2]))
def esc(s):
    return html.escape(s, quote=True).replace("&#x27;", "&#39;")
rows = re.findall(r'<tr class="worker" data-path="([^"]*)">(.*?)</tr>', page)
assert [p for p, _ in rows] == [w["path"] for w in d["workers"]], ([p for p, _ in rows], [w["path"] for w in d["workers"]])
for (path, row), w in zip(rows, d["workers"]):
    state = re.search(r'<span class="st st-[a-z]+">([a-z]+)</span>', row).group(1)
    assert state == w["state"], (path, state, w["state"])
    assert "<td>" + esc(w["unit"]) in row, (path, w["unit"])
    if w["last_exit"]:
        assert esc(w["last_exit"]["description"]) in row, (path, w["last_exit"]["description"])
probe = dict(rows)["front/probe"]
detail = [w for w in d["workers"] if w["path"] == "front/probe"][0]["health_detail"]
assert '<span class="h h-unhealthy">unhealthy</span>' in probe, probe
assert esc(detail) in probe, (esc(detail), probe)
assert "&lt;script&gt;alert(1)&lt;/script&gt;" in probe and "it&#39;s" in probe, probe
assert "<script" not in page and "<b>bold" not in page, "markup from the check's output reached the page"
assert len(re.findall(r'<tr class="supervisor" data-path="', page)) == 2, "supervisor rows"
assert re.search(r'<td>worker-exited</td><td>front/web</td>', page), "no worker-exited event for front/web"
assert '<meta http-equiv="refresh" content="5">' in page
print("page: %d bytes, %d worker rows in order with their states, units and last exits" % (len(page), len(rows)))
PY
curl -fsS --max-time 30 -I "$url/" | tr -d '\r' >"$work/head"
grep -q '^HTTP/1.1 200' "$work/head" || fail "HEAD /: $(head -n 1 "$work/head")"
grep -qi "^content-security-policy: default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'$" "$work/head" || fail "HEAD / lacks the CSP: $(cat "$work/head")"
pass_step "GET / is text/html with CSP, nosniff and no-store; ${#paths[@]} worker rows in supervision order; the check's markup escaped; HEAD too"

# --- /api/v1/status against vigilctl status --json ----------------------------------------
curl -fsS --max-time 30 -D "$work/api-headers" -o "$work/api.json" "$url/api/v1/status"
grep -qi '^content-type: application/json' <(tr -d '\r' <"$work/api-headers") || fail "/api/v1/status: $(cat "$work/api-headers")"
vigil_json >"$work/ctl.json"
# The schema: every path of the document, array indices folded (values may differ: the
# figures are of two different reads).
shape() { jq -c '[paths | map(if type == "number" then 0 else . end)] | unique' "$1"; }
ident() { jq -cS '{schema, supervisors: [.supervisors[] | {path, state, slice}], workers: [.workers[] | {path, state, unit, restarts}]}' "$1"; }
assert_eq "$(shape "$work/ctl.json")" "$(shape "$work/api.json")" "the schema of /api/v1/status against vigilctl status --json"
assert_eq "$(ident "$work/ctl.json")" "$(ident "$work/api.json")" "workers and supervisors of /api/v1/status against vigilctl status --json"
assert_eq "$(jq -r '.workers[] | select(.path == "front/probe") | .health_detail' "$work/ctl.json")" \
    "$(jq -r '.workers[] | select(.path == "front/probe") | .health_detail' "$work/api.json")" "health detail in both"
# The layout too: both are exactly what `jq --indent 2` prints of them (two-space
# indentation, keys in the same order, a final newline).
jq --indent 2 . "$work/ctl.json" | cmp -s - "$work/ctl.json" || fail "vigilctl status --json is not in jq's --indent 2 layout"
jq --indent 2 . "$work/api.json" | cmp -s - "$work/api.json" ||
    fail "/api/v1/status is not laid out as vigilctl status --json: $(jq --indent 2 . "$work/api.json" | diff - "$work/api.json" | head -n 10)"
code=$(curl -s --max-time 30 -o "$work/404" -w '%{http_code}' "$url/nothing-here")
assert_eq 404 "$code" "status of an unknown path"
for p in ' / ' ' /metrics ' ' /api/v1/status '; do
    grep -qF -- "$p" "$work/404" || fail "the 404 does not name$p: $(cat "$work/404")"
done
pass_step "/api/v1/status: the schema, supervisors and workers (path, state, unit, restarts) of vigilctl status --json; unknown paths are 404 naming /, /metrics and /api/v1/status"

# --- headless Chromium: the DOM it rendered, then a screenshot ------------------------------
chromium_run() {
    timeout 300 chromium --headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --no-first-run --no-default-browser-check --disable-extensions --hide-scrollbars \
        --disable-background-networking --disable-component-update \
        --user-data-dir="$work/profile" "$@"
}
t0=$SECONDS
rc=0
chromium_run --dump-dom "$url/" >"$work/dom.html" 2>"$work/chromium-dom.err" || rc=$?
if ! grep -q '</html>' "$work/dom.html"; then
    tail -n 20 "$work/chromium-dom.err"
    fail "chromium --dump-dom gave no document (exit $rc)"
fi
((rc == 0)) || echo "note: chromium --dump-dom exited $rc after printing the document"
python3 - "$work/dom.html" "${paths[@]}" <<'PY' || fail "the DOM Chromium rendered lacks a worker or has an element made of text (above)"
import re, sys
dom = open(sys.argv[1], encoding="utf-8").read()
for path in sys.argv[2:]:
    assert re.search(r'<tr class="worker[^"]*" data-path="%s">' % re.escape(path), dom), "no row for " + path
    assert re.search(r'</span>%s</td>' % re.escape(path), dom), "no visible path " + path
# Serialized by the browser: an element it built from the check's output would come back
# as a tag; text comes back escaped.
assert "<script" not in dom.lower(), "a script element in the DOM"
assert "<b>bold" not in dom, "a b element from the health detail"
assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom and "&lt;b&gt;bold&lt;/b&gt;" in dom
print("DOM: %d bytes, every one of %d workers rendered" % (len(dom), len(sys.argv) - 2))
PY
pass_step "chromium --dump-dom ($((SECONDS - t0)) s): every worker path is in the rendered DOM, the check's markup stayed text"

t0=$SECONDS
rc=0
chromium_run --screenshot="$work/page.png" --window-size=1280,1024 "$url/" >"$work/chromium-shot.out" 2>&1 || rc=$?
if [[ ! -s $work/page.png ]]; then
    tail -n 20 "$work/chromium-shot.out"
    fail "chromium --screenshot wrote no PNG (exit $rc)"
fi
((rc == 0)) || echo "note: chromium --screenshot exited $rc after writing the PNG"
python3 - "$work/page.png" <<'PY' || fail "the screenshot is not a rendering of the page (above)"
import struct, sys, zlib
from itertools import accumulate, repeat
from operator import add, and_

data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, ihdr, end = 8, [], None, False
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])[0], "bad CRC"
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat.append(body)
    elif kind == b"IEND":
        end = True
        break
    pos += 12 + n
assert ihdr and end, "no IHDR or no IEND: truncated"
width, height, depth, ctype, _, _, interlace = ihdr
print("PNG %dx%d, bit depth %d, colour type %d" % (width, height, depth, ctype))
# --window-size=1280,1024. Some headless Chromium releases give the page a viewport a
# little smaller than the window (an invisible frame); the width is what the table needs.
assert width == 1280 and 900 <= height <= 1024, "size %dx%d" % (width, height)
assert depth == 8 and ctype in (2, 6) and not interlace, "unexpected format"
bpp = 3 if ctype == 2 else 4
raw = zlib.decompress(b"".join(idat))
stride = width * bpp
assert len(raw) == height * (stride + 1), "IDAT holds %d bytes" % len(raw)
colours, green = set(), 0
prev = bytes(stride)
for y in range(height):
    f = raw[y * (stride + 1)]
    line = raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)]
    if f == 0:  # None
        cur = line
    elif f == 1:  # Sub: a running sum per channel
        b = bytearray(stride)
        for c in range(bpp):
            b[c::bpp] = bytes(map(and_, accumulate(line[c::bpp], add), repeat(255)))
        cur = bytes(b)
    elif f == 2:  # Up
        cur = bytes(map(and_, map(add, line, prev), repeat(255)))
    elif f in (3, 4):  # Average, Paeth: each byte needs the one decoded before it
        b = bytearray(stride)
        for i in range(stride):
            left = b[i - bpp] if i >= bpp else 0
            up = prev[i]
            if f == 3:
                b[i] = (line[i] + ((left + up) >> 1)) & 255
            else:
                ul = prev[i - bpp] if i >= bpp else 0
                p = left + up - ul
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - ul)
                b[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else ul)) & 255
        cur = bytes(b)
    else:
        raise AssertionError("row %d: filter type %d" % (y, f))
    prev = cur
    for x in range(0, stride, bpp):
        px = cur[x:x + 3]
        colours.add(px)
        # The memory bar's fill (.ok, #2da44e), allowing for colour conversion.
        if abs(px[0] - 0x2d) <= 8 and abs(px[1] - 0xa4) <= 8 and abs(px[2] - 0x4e) <= 8:
            green += 1
print("%d distinct colours, %d pixels of the bar's green" % (len(colours), green))
assert len(colours) >= 16, "too few colours: not a rendered page"
assert green >= 40, "no memory bar drawn: the page's CSS was not applied"
PY
pass_step "chromium --screenshot ($((SECONDS - t0)) s): the page in many colours, the memory bar drawn"

# --- names cannot carry markup; only free text (exit descriptions, health details) can -----
cat >"$work/hostile.yaml" <<'YAML'
tier: tier_2
trees:
  t:
    children:
      - name: "<script>x</script>"
        command: [/bin/true]
YAML
rc=0
out=$(vigild --check-config "$work/hostile.yaml" --no-host-checks 2>&1) || rc=$?
assert_eq 1 "$rc" "vigild --check-config of a worker named like markup"
grep -qF "name '<script>x</script>' contains '<'" <<<"$out" || fail "no name error: $out"
pass_step "a worker named '<script>x</script>' is refused by check-config; the page's free text is escaped (above)"

assert_eq config-applied "$(printf 'tier: tier_2\ntrees: {}\n' | vigil_apply)" "reload to an empty tree"
