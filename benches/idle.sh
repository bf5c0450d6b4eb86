#!/usr/bin/env bash
# What the console costs when nothing happens: bytes written to the terminal per second
# and CPU used, at 160x48, against a simulated cluster whose numbers hold still
# (assets/scenarios/steady.yaml).
#
#   benches/idle.sh [SECONDS]      (default 120; needs tmux, script(1), pgrep, join)
#
# Two runs: `warroom demo` (console and simulator in one process, as users start it), and
# `warroom run` against `warroom sim` in a separate process, which separates the console's
# own cost from the simulator's. script(1) records every byte the console writes to its
# terminal; CPU comes from /proc/PID/stat over the measuring window, after a warm-up;
# wake-ups are each thread's context switches (/proc/PID/task/*/status) over the window,
# and RSS is read at its end.
#
# Where kdash (a Kubernetes dashboard in Rust: `cargo install kdash --locked`) is on the
# PATH, it is measured the same way against the same simulator, in the same run, and the
# console's figures are printed as ratios of kdash's.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
warm=${WARM:-20}
# BIN=path measures another build (an earlier one, to compare) instead of this tree's.
if [ -z "${BIN:-}" ]; then cargo build --release -q; fi
bin=${BIN:-$PWD/target/release/warroom}
dir=$(mktemp -d)
sock=warroom-idle-$$
simpid=
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "$simpid" ] && kill "$simpid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Each thread's name and context switches (voluntary + involuntary): one per wake-up.
switches() { for t in /proc/"$1"/task/*; do printf '%s\t%s\n' "$(tr ' ' '_' < "$t/comm")" "$(awk '/ctxt_switches/ {n += $2} END {print n}' "$t/status")"; done | sort; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
pid_of() { for _ in $(seq 100); do p=$(pgrep -f "^$1" | head -1 || true); [ -n "$p" ] && { echo "$p"; return; }; sleep 0.1; done; echo "no process: $1" >&2; exit 1; }

# measure NAME CMD [EXTRA_PID]  (PAT=… finds the process when it does not start as CMD)
measure() {
  local name=$1 cmd=$2 extra=${3:-} out=$dir/$1.tty
  tmux -L "$sock" new-session -d -s "$name" -x 160 -y 48 "script -q -f -c '$cmd' $out"
  local pid; pid=$(pid_of "${PAT:-$cmd}")
  sleep "$warm"
  local b0 c0 e0=0 t0 b1 c1 e1=0 t1
  b0=$(stat -c %s "$out"); c0=$(ticks "$pid"); [ -n "$extra" ] && e0=$(ticks "$extra"); t0=$(date +%s.%N)
  switches "$pid" > "$dir/$name.sw0"
  sleep "$secs"
  b1=$(stat -c %s "$out"); c1=$(ticks "$pid"); [ -n "$extra" ] && e1=$(ticks "$extra"); t1=$(date +%s.%N)
  switches "$pid" > "$dir/$name.sw1"
  local rss; rss=$(rss_kb "$pid")
  tmux -L "$sock" send-keys -t "$name" q
  # let it quit (and hand back its Lease) before the next run starts
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  awk -v name="$name" -v b="$((b1 - b0))" -v c="$((c1 - c0))" -v e="$((e1 - e0))" -v extra="$extra" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN {
    dt = t1 - t0
    printf "%s, %.0f s at 160x48:\n", name, dt
    printf "  terminal output: %d bytes, %.2f bytes/s\n", b, b / dt
    printf "  CPU: %.2f s, %.3f%% of one core\n", c / hz, 100 * c / hz / dt
    if (extra != "") printf "  simulator CPU (separate process): %.2f s, %.3f%% of one core\n", e / hz, 100 * e / hz / dt
  }'
  printf '  RSS: %d KiB\n' "$rss"
  # For the ratios: CPU share, bytes/s, RSS.
  awk -v b="$((b1 - b0))" -v c="$((c1 - c0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v rss="$rss" \
    'BEGIN { dt = t1 - t0; print 100 * c / hz / dt, b / dt, rss }' > "$dir/$name.res"
  # Wake-ups per second, per thread name (threads of one name summed), busiest first.
  join -a 2 -e 0 -o 2.1,1.2,2.2 <(awk -F'\t' '{n[$1] += $2} END {for (k in n) print k, n[k]}' "$dir/$name.sw0" | sort) \
    <(awk -F'\t' '{n[$1] += $2} END {for (k in n) print k, n[k]}' "$dir/$name.sw1" | sort) |
    awk -v t0="$t0" -v t1="$t1" '{ w = ($3 - $2) / (t1 - t0); total += w; line[NR] = sprintf("    %-18s %7.1f /s", $1, w); rate[NR] = w }
      END { printf "  wake-ups: %.1f /s in all\n", total; n = NR
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (rate[j] > rate[i]) { t = rate[i]; rate[i] = rate[j]; rate[j] = t; t = line[i]; line[i] = line[j]; line[j] = t }
            for (i = 1; i <= n && i <= 6; i++) print line[i] }' | tee "$dir/$name.wake"
}

measure demo "$bin demo --scenario assets/scenarios/steady.yaml --journal $dir/demo.jsonl --kubeconfig-out $dir/demo.kc"

"$bin" sim --scenario assets/scenarios/steady.yaml --kubeconfig-out "$dir/sim.kc" > "$dir/sim.out" &
simpid=$!
for _ in $(seq 100); do grep -q '^Prometheus API' "$dir/sim.out" 2>/dev/null && break; sleep 0.1; done
prom=$(awk '/^Prometheus API/ {print $3}' "$dir/sim.out")
measure run "$bin run assets/runbooks/demo.yaml --kubeconfig $dir/sim.kc --prometheus $prom --journal $dir/run.jsonl" "$simpid"

if command -v kdash > /dev/null; then
  PAT=kdash measure kdash "env KUBECONFIG=$dir/sim.kc kdash" "$simpid"
  read -r rc rb rr < "$dir/run.res"
  read -r kc kb kr < "$dir/kdash.res"
  rw=$(awk '/in all/ {print $2}' "$dir/run.wake")
  kw=$(awk '/in all/ {print $2}' "$dir/kdash.wake")
  awk -v rc="$rc" -v kc="$kc" -v rb="$rb" -v kb="$kb" -v rr="$rr" -v kr="$kr" -v rw="$rw" -v kw="$kw" 'BEGIN {
    printf "console against kdash, same simulator, same run:\n"
    printf "  CPU %.3f%% against %.3f%% (%.2f×)\n", rc, kc, (kc > 0 ? rc / kc : 0)
    printf "  wake-ups %.1f/s against %.1f/s (%.2f×)\n", rw, kw, (kw > 0 ? rw / kw : 0)
    printf "  terminal output %.2f bytes/s against %.2f (%.3f×)\n", rb, kb, (kb > 0 ? rb / kb : 0)
    printf "  RSS %d KiB against %d KiB (%.2f×)\n", rr, kr, (kr > 0 ? rr / kr : 0)
  }'
else
  echo "kdash is not installed (cargo install kdash --locked): no side-by-side figures"
fi
