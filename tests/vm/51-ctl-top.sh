#!/bin/bash
# vigilctl top on a terminal (tmux): renders the tree with its figures, sorts siblings by
# memory on `m`, quits on `q`; into a pipe it prints one plain table, no escape sequences.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

result=$(vigil_apply <<'YAML'
tier: tier_2
trees:
  t:
    children:
      - name: small
        command: [/bin/sleep, infinity]
      - name: big
        command: [/usr/bin/python3, -c, "import time; b = b'x' * (60 << 20); time.sleep(1e6)"]
YAML
)
assert_eq config-applied "$result" "reload result"
wait_unit_active vigil-t-big.service 90
big_sampled() { vigilctl status t/big --json | python3 -c '
import json, sys
w = json.load(sys.stdin)["workers"][0]
sys.exit(0 if w.get("cgroup_stats") and w["cgroup_stats"]["memory_current_bytes"] > 50 << 20 else 1)'; }
wait_for 60 big_sampled

tmux kill-server 2>/dev/null || true
tmux new-session -d -s top -x 150 -y 30 "vigilctl top -d 1"
trap 'tmux kill-server 2>/dev/null || true' EXIT
pane() { tmux capture-pane -p -t top; }
shows() { pane | grep -qE "$1"; }
wait_for 60 shows ' big +running +[0-9.]+ +[0-9.]+M'
screen=$(pane)
echo "$screen" | head -8
grep -q 'sorted by start order' <<<"$screen" || fail "no header with the sort order: $screen"
order=$(grep -oE ' (small|big) +running' <<<"$screen" | awk '{print $1}' | tr '\n' ' ')
assert_eq "small big " "$order" "rows in start order"
pass_step "vigilctl top renders the tree: small then big (start order), with CPU and memory"

tmux send-keys -t top m
wait_for 20 shows 'sorted by memory'
screen=$(pane)
order=$(grep -oE ' (small|big) +running' <<<"$screen" | awk '{print $1}' | tr '\n' ' ')
assert_eq "big small " "$order" "rows by memory"
pass_step "'m' sorts the siblings by memory: big (60 MB) first"

tmux send-keys -t top q
gone() { ! tmux has-session -t top 2>/dev/null; }
wait_for 20 gone
pass_step "'q' quits"

out=$(vigilctl top -d 1 | cat)
echo "$out"
grep -qE '^NAME +STATE +CPU%' <<<"$out" || fail "the piped table has no column header"
grep -qE 'big +running' <<<"$out" || fail "the piped table has no row for big"
if grep -q $'\e' <<<"$out"; then fail "the piped table has escape sequences"; fi
pass_step "into a pipe: one plain table"
