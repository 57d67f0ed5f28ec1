#!/bin/bash
# vigilctl status over the API on the real system bus: the JSON document matches what
# systemd says (units, MainPIDs, cgroups, memory figures read from cgroupfs), the tree view
# and the detail view show the same, unknown targets exit 4 naming the nearest paths, and
# the object is introspectable with busctl.
# vm-timeout: 300
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/vigil-lib.sh"

vigil_start_ctl_tree 3
vigil_json >/tmp/status.json
python3 - /tmp/status.json <<'PY' || fail "status --json does not match systemd"
import json, subprocess, sys
d = json.load(open(sys.argv[1]))
def prop(unit, p):
    return subprocess.run(["systemctl", "show", "-p", p, "--value", unit], capture_output=True, text=True).stdout.strip()
assert d["schema"] == 1, d["schema"]
v = d["vigild"]
assert v["ready"] is True and v["last_reload"]["result"] == "applied", v
assert int(prop("vigild.service", "MainPID")) == v["pid"], (v["pid"], prop("vigild.service", "MainPID"))
assert [s["path"] for s in d["supervisors"]] == ["app", "app/sub"], d["supervisors"]
paths = sorted(w["path"] for w in d["workers"])
assert paths == ["app/a", "app/sub/x", "app/sub/y", "app/w@1", "app/w@2", "app/w@3"], paths
for w in d["workers"]:
    assert w["state"] == "running", w
    assert w["main_pid"] == int(prop(w["unit"], "MainPID")), (w["path"], w["main_pid"], prop(w["unit"], "MainPID"))
    assert w["cgroup"] == prop(w["unit"], "ControlGroup"), w
    mem = int(open("/sys/fs/cgroup" + w["cgroup"] + "/memory.current").read())
    assert w["memory_current_bytes"] and w["memory_current_bytes"] > 0, w
    assert w["tasks_current"] and w["tasks_current"] >= 1, w
    # Limits as systemd has them (tier_2 sets tasks_max).
    for key, p in (("memory_max_bytes", "MemoryMax"), ("tasks_max", "TasksMax")):
        sd = prop(w["unit"], p)
        assert (w[key] is None and sd == "infinity") or w[key] == int(sd), (w["path"], key, w[key], sd)
    assert w["cpu_usage_usec"] is not None, w
print("json ok:", len(d["workers"]), "workers")
PY
pass_step "status --json: units, MainPIDs, cgroups and figures match systemd and cgroupfs"

ctl_expect 0 status
echo "$ctl_out"
pid=$(main_pid vigil-app-w@2.service)
grep -E "^[^a-z]*w@2 +running +$pid " <<<"$ctl_out" >/dev/null || fail "the tree does not show w@2 running with PID $pid"
grep -E "^[^a-z]*sub +running +one_for_one" <<<"$ctl_out" >/dev/null || fail "the tree does not show sub"
ctl_expect 0 status app/w@2
echo "$ctl_out"
grep -q "Unit: vigil-app-w@2.service (active)" <<<"$ctl_out" || fail "detail: no unit line"
grep -q "Main PID: $pid" <<<"$ctl_out" || fail "detail: no main PID $pid"
grep -q "CGroup: /vigil.slice/vigil-app.slice/vigil-app-w@2.service" <<<"$ctl_out" || fail "detail: no cgroup"
grep -q "hello from w2" <<<"$ctl_out" || fail "detail: the worker's output is not shown"
pass_step "the tree and the detail view show the same units, PIDs and output"

ctl_expect 4 stop app/ww
grep -q "unknown target 'app/ww'; nearest: app/w" <<<"$ctl_err" || fail "unknown target message: $ctl_err"
ctl_expect 4 status nosuchtree
ctl_expect 4 logs app/nope
systemctl is-active --quiet vigil-app-w@1.service || fail "a refused command stopped something"
pass_step "unknown targets exit 4 and name the nearest paths; nothing changed"

busctl introspect org.vigil.Vigil1 /org/vigil/Vigil1 >/tmp/introspect.txt || fail "busctl introspect failed"
for m in org.vigil.Vigil1.Manager .GetStatus .Stop .RestartRolling .SetLimits .Scale .Reload .Event .OperationFinished; do
    grep -q -- "$m" /tmp/introspect.txt || fail "busctl introspect does not list $m"
done
cmp /usr/share/dbus-1/interfaces/org.vigil.Vigil1.Manager.xml \
    <(busctl --xml-interface introspect org.vigil.Vigil1 /org/vigil/Vigil1 | sed -n '/<interface name="org.vigil.Vigil1.Manager">/,/<\/interface>/p') >/dev/null ||
    diff <(grep -E '<(method|signal|arg)' /usr/share/dbus-1/interfaces/org.vigil.Vigil1.Manager.xml | sed 's/^ *//') \
        <(busctl --xml-interface introspect org.vigil.Vigil1 /org/vigil/Vigil1 | sed -n '/<interface name="org.vigil.Vigil1.Manager">/,/<\/interface>/p' | grep -E '<(method|signal|arg)' | sed 's/^ *//') ||
    fail "the installed interface XML differs from the live object"
pass_step "busctl introspect lists org.vigil.Vigil1.Manager; the shipped XML matches"
