#!/usr/bin/env bash
# The command lines of vigild and vigilctl as an operator meets them: exit codes (vigild(8)
# and vigilctl(1), EXIT STATUS), one clear line per usage error, --version, and checking the
# repository's own example from a build tree without flags.
#   tests/cli/cli_test.sh VIGILD VIGILCTL REPO EXAMPLE_WORKER
set -uo pipefail
vigild=$1 vigilctl=$2 repo=$3 worker=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect CODE DESCRIPTION -- COMMAND...: runs COMMAND, keeps stdout/stderr in $out/$err.
expect() {
    local want=$1 what=$2
    shift 3
    "$@" >"$tmp/out" 2>"$tmp/err"
    local got=$?
    out=$(cat "$tmp/out") err=$(cat "$tmp/err")
    if [[ $got != "$want" ]]; then
        echo "FAIL: $what: exit $got, expected $want"
        echo "  stdout: $out"
        echo "  stderr: $err"
        failures=$((failures + 1))
        return 1
    fi
    echo "ok: $what (exit $got)"
}
# has TEXT WHERE WHAT: WHERE ("out" or "err") contains TEXT.
has() {
    local text=$1 where=$2 what=$3 hay
    [[ $where == out ]] && hay=$out || hay=$err
    if [[ $hay != *"$text"* ]]; then
        echo "FAIL: $what: '$text' not in std$where:"
        echo "$hay" | sed 's/^/  | /'
        failures=$((failures + 1))
    fi
}
lines() { [[ -z $1 ]] && echo 0 || printf '%s\n' "$1" | wc -l; }

version=$(sed -n 's/^project(vigil VERSION \([0-9.]*\).*/\1/p' "$repo/CMakeLists.txt")

expect 0 "vigild --version" -- "$vigild" --version && has "vigild $version" out "vigild --version"
expect 0 "vigilctl --version" -- "$vigilctl" --version && has "vigilctl $version" out "vigilctl --version"
expect 0 "vigilctl version" -- "$vigilctl" version && has "vigilctl $version" out "vigilctl version"
expect 0 "vigild --help" -- "$vigild" --help
has "default: the 'tiers' directory next to the configuration file, then" out "vigild --help: tier dirs"
expect 0 "vigilctl --help" -- "$vigilctl" --help

expect 2 "vigild with an unknown option" -- "$vigild" --bogus
has "vigild: The following argument was not expected: --bogus" err "vigild --bogus"
has "Try 'vigild --help'." err "vigild --bogus"
[[ $(lines "$err") == 2 ]] || { echo "FAIL: vigild --bogus: more than one error line"; failures=$((failures + 1)); }
expect 2 "vigild --no-host-checks without --check-config" -- "$vigild" --no-host-checks
has "--no-host-checks only applies to --check-config" err "vigild --no-host-checks"
# The doctor's options: refused where they do not apply, with one line and exit 2.
expect 2 "vigild --json without --doctor" -- "$vigild" --json
has "vigild: --json only applies to --doctor" err "vigild --json"
expect 2 "vigild --doctor --check-config" -- "$vigild" --doctor --check-config
has "vigild: --doctor and --check-config do not go together" err "vigild --doctor --check-config"
expect 2 "vigilctl doctor --bogus" -- "$vigilctl" doctor --bogus
expect 2 "vigilctl without a command" -- "$vigilctl"
has "vigilctl: a command is required; commands: status, start, stop, restart, kill, freeze, thaw, set, scale, reload, reset, logs, events, check-config, doctor, list-targets, version" err "vigilctl"
expect 2 "vigilctl with an unknown command" -- "$vigilctl" bogus
has "vigilctl: unknown command 'bogus'; commands: status, start, stop, restart, kill, freeze, thaw, set, scale, reload, reset, logs, events, check-config, doctor, list-targets, version" err "vigilctl bogus"
[[ $(lines "$err") == 2 ]] || { echo "FAIL: vigilctl bogus: more than one error line"; failures=$((failures + 1)); }
expect 2 "vigilctl with an unknown command after -H" -- "$vigilctl" -H somehost bogus
has "unknown command 'bogus'" err "vigilctl -H somehost bogus"
expect 2 "vigilctl with an unknown option" -- "$vigilctl" status --bogus
expect 2 "vigilctl check-config with two files" -- "$vigilctl" check-config a.yaml b.yaml

# From the repository (as from a build tree): no --tier-dir needed, the tiers next to the
# file are used, and both tools agree.
cd "$repo"
expect 0 "vigild --check-config config/example.yaml" -- "$vigild" --check-config config/example.yaml
has "config/example.yaml: ok (tier tier_3, 3 tree(s), 7 worker unit(s))" out "vigild --check-config example"
expect 0 "vigilctl check-config config/example.yaml" -- "$vigilctl" check-config config/example.yaml
has "config/example.yaml: ok (tier tier_3, 3 tree(s), 7 worker unit(s))" out "vigilctl check-config example"
expect 0 "vigild --check-config config/vigil.yaml" -- "$vigild" --check-config config/vigil.yaml
has "config/vigil.yaml: ok (tier tier_3, 0 tree(s), 0 worker unit(s))" out "the shipped default"
expect 0 "vigild --check-config --no-host-checks FILE" -- "$vigild" --check-config --no-host-checks config/example.yaml
expect 2 "vigild FILE without --check-config" -- "$vigild" config/example.yaml
has "a FILE argument only applies to --check-config" err "vigild FILE"
expect 2 "vigild --check-config with two files" -- "$vigild" --check-config config/example.yaml config/vigil.yaml
expect 0 "vigilctl check-config --no-host-checks" -- "$vigilctl" check-config --no-host-checks config/example.yaml
has "note: host checks skipped (--no-host-checks)" err "vigilctl --no-host-checks"

# Host checks are on by default for both tools, and --tier-dir works in both.
cat >"$tmp/bad-host.yaml" <<'YAML'
trees:
  t:
    children:
      - {name: w, command: [/bin/true], user: vigil_no_such_user}
YAML
for tool in "$vigild --check-config" "$vigilctl check-config"; do
    expect 1 "$tool: a user that does not exist" -- $tool "$tmp/bad-host.yaml" --tier-dir config/tiers
    has "bad-host.yaml:4:47: trees.t.children[0].user: user 'vigil_no_such_user': no such user on this host" err "$tool host check"
    has "bad-host.yaml: 1 error(s); configuration rejected" err "$tool host check"
    expect 0 "$tool --no-host-checks" -- $tool "$tmp/bad-host.yaml" --tier-dir config/tiers --no-host-checks
    # --tier-dir takes one directory, so a FILE after it is the file to check (it used to
    # be swallowed as a second tier directory, and the default file was checked instead).
    expect 1 "$tool --tier-dir DIR FILE checks FILE" -- $tool --tier-dir config/tiers "$tmp/bad-host.yaml"
    has "bad-host.yaml: 1 error(s); configuration rejected" err "$tool --tier-dir DIR FILE"
    expect 1 "$tool --tier-dir twice" -- $tool --tier-dir "$tmp" --tier-dir config/tiers "$tmp/bad-host.yaml"
    has "bad-host.yaml: 1 error(s); configuration rejected" err "$tool --tier-dir twice"
done

# The example worker answers --help and refuses an unknown option instead of running.
expect 0 "vigil-example-worker --help" -- timeout 5 "$worker" --help
has "usage: vigil-example-worker" out "vigil-example-worker --help"
expect 2 "vigil-example-worker --bogus" -- timeout 5 "$worker" --bogus
has "vigil-example-worker: --bogus: unknown argument" err "vigil-example-worker --bogus"
expect 2 "vigil-example-worker --stamp without a value" -- timeout 5 "$worker" --stamp

# The true number of errors, whatever is shown.
{ echo "trees:"; for i in $(seq 1 150); do echo "  t$i: {strategy: bad}"; done; } >"$tmp/many.yaml"
expect 1 "150 errors" -- "$vigild" --check-config "$tmp/many.yaml" --tier-dir config/tiers
has "more errors not shown" err "150 errors: capped"
has "many.yaml: 151 error(s); configuration rejected" err "150 errors: counted"   # + at most 64 trees
# Every error names its source.
expect 1 "VIGIL_TIER invalid" -- env VIGIL_TIER=tier_9 "$vigild" --check-config config/vigil.yaml
has "environment variable VIGIL_TIER: expected one of tier_1, tier_2, tier_3, found 'tier_9'" err "VIGIL_TIER"
expect 1 "missing file" -- "$vigild" --check-config "$tmp/missing.yaml"
has "$tmp/missing.yaml: cannot open: No such file or directory" err "missing file"

# Without vigild: exit 3 and one line, whatever the command; options before or after it.
export VIGIL_BUS_ADDRESS="unix:path=$tmp/no-bus"
for args in "status" "--no-pager status" "status --no-pager" "stop t/w" "reload --dry-run" "list-targets"; do
    expect 3 "vigilctl $args without vigild" -- "$vigilctl" $args
    has "vigilctl: cannot reach vigild" err "vigilctl $args without vigild"
    [[ $(lines "$err") == 1 ]] || { echo "FAIL: vigilctl $args: more than one error line"; failures=$((failures + 1)); }
done
# Bad arguments are usage errors before any call (exit 2), with one line and a hint.
expect 2 "vigilctl scale to -1" -- "$vigilctl" scale t/w -1
has "expected an instance count from 1 to 1000" err "scale -1"
expect 2 "vigilctl scale to 0" -- "$vigilctl" scale t/w 0
expect 2 "vigilctl set with a bad size" -- "$vigilctl" set t/w memory_max=lots
has "memory_max: expected a size like 512M, or infinity, found 'lots'" err "set memory_max=lots"
expect 2 "vigilctl set with a key set cannot change" -- "$vigilctl" set t/w nofile=10
has "nofile: not a limit set can change" err "set nofile"
expect 2 "vigilctl set without =" -- "$vigilctl" set t/w memory_max
expect 2 "vigilctl kill with a bad signal" -- "$vigilctl" kill -s BOGUS t/w
has "-s BOGUS: not a signal name or number" err "kill -s BOGUS"
expect 2 "vigilctl stop without a target" -- "$vigilctl" stop
expect 2 "vigilctl logs -o bad" -- "$vigilctl" logs t/w -o xml
expect 2 "vigilctl events --since nonsense" -- "$vigilctl" events --since soonish
expect 0 "vigilctl version without vigild" -- "$vigilctl" version
has "vigilctl $version" out "vigilctl version without vigild"
unset VIGIL_BUS_ADDRESS

# Bash completion: commands, options of a command, live targets (asked from vigilctl,
# here a stub), the keys of set.
completion() { # WORDS... -> the completions of the last word
    bash -c '
        source /usr/share/bash-completion/bash_completion 2>/dev/null || exit 99
        source "$1"; shift
        vigilctl() { [[ $* == *list-targets* ]] && printf "%s\n" web web/api web/api@1 web/api@2; }
        COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _vigilctl vigilctl "${COMP_WORDS[-1]}" "${COMP_WORDS[-2]}"
        printf "%s\n" "${COMPREPLY[@]}" | sort | xargs
    ' _ "$repo/completion/vigilctl" "$@"
}
check_completion() { # EXPECTED WORDS...
    local want=$1 got
    shift
    got=$(completion "$@")
    if [[ $got != "$want" ]]; then
        echo "FAIL: completion of '$*': got '$got', expected '$want'"
        failures=$((failures + 1))
    else
        echo "ok: completion of '$*'"
    fi
}
if [[ -f /usr/share/bash-completion/bash_completion ]]; then
    check_completion "start status stop" vigilctl st
    check_completion "--help --host --no-block --no-pager --rolling --version" vigilctl restart --
    check_completion "web/api web/api@1 web/api@2" vigilctl restart web/a
    check_completion "web/api@1 web/api@2" vigilctl -H host stop web/api@
    check_completion "memory_high= memory_max=" vigilctl set web/api memory_
    check_completion "json short" vigilctl logs web -o ""
else
    echo "FAIL: bash-completion is not installed (scripts/install-deps installs it)"
    failures=$((failures + 1))
fi

echo "$failures failure(s)"
((failures == 0))
