#!/usr/bin/env bash
# What a rollout of a thousand pods costs: `warroom sim` with ten services of 100 pods
# each (assets/scenarios/scale.yaml) and the console on its runbook
# (assets/runbooks/scale.yaml) at 160x48 in tmux. After a warm-up, every stable Deployment
# is given a new image (kubectl set image: 1000 pods roll), and over the window the script
# reports the console's and the simulator's CPU, the console's wake-ups per second, the
# time the simulated Prometheus takes to answer a gauge's query while the pods roll, and
# both processes' RSS at the end. Where kdash is on the PATH (`cargo install kdash
# --locked`), it watches the same simulator at 160x48 over the same window, and its CPU
# is printed beside the console's.
#
#   benches/scale.sh [SECONDS]     (default 60; needs tmux, kubectl, curl)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
warm=${WARM:-30}
if [ -z "${BIN:-}" ]; then cargo build --release -q; fi
bin=${BIN:-$PWD/target/release/warroom}
dir=$(mktemp -d)
sock=warroom-scale-$$
simpid=
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "$simpid" ] && kill "$simpid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
hz=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
switches() { cat /proc/"$1"/task/*/status | awk '/ctxt_switches/ {n += $2} END {print n}'; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

"$bin" sim --scenario assets/scenarios/scale.yaml --kubeconfig-out "$dir/kc" > "$dir/sim.out" &
simpid=$!
for _ in $(seq 600); do grep -q '^Prometheus API' "$dir/sim.out" 2>/dev/null && break; sleep 0.1; done
prom=$(awk '/^Prometheus API/ {print $3}' "$dir/sim.out")
query='100 * sum by (track) (rate(http_requests_total{job="erp-svc03",code=~"5.."}[1m])) / sum by (track) (rate(http_requests_total{job="erp-svc03"}[1m]))'
ask() { curl -s -o /dev/null -w '%{time_total}\n' --max-time 60 "$prom/api/v1/query" --data-urlencode "query=$query"; }
start=$(date +%s.%N)
ask > /dev/null
printf 'simulator: 1000 pods, first query answered %.1f s after start\n' "$(echo "$(date +%s.%N) - $start" | bc)"

tmux -L "$sock" new-session -d -s run -x 160 -y 48 \
  "$bin run assets/runbooks/scale.yaml --kubeconfig $dir/kc --prometheus $prom --journal $dir/run.jsonl --operator bench"
pid=
for _ in $(seq 100); do pid=$(pgrep -f "^$bin run assets/runbooks/scale.yaml" | head -1 || true); [ -n "$pid" ] && break; sleep 0.1; done
[ -n "$pid" ] || { echo "the console did not start" >&2; exit 1; }
kpid=
if command -v kdash > /dev/null; then
  tmux -L "$sock" new-session -d -s kdash -x 160 -y 48 "env KUBECONFIG=$dir/kc kdash"
  for _ in $(seq 100); do kpid=$(pgrep -f '^kdash' | head -1 || true); [ -n "$kpid" ] && break; sleep 0.1; done
fi
sleep "$warm"

c0=$(ticks "$pid"); s0=$(ticks "$simpid"); w0=$(switches "$pid"); t0=$(date +%s.%N)
k0=0; [ -n "$kpid" ] && k0=$(ticks "$kpid")
for n in 0 1 2 3 4 5 6 7 8 9; do
  kubectl --kubeconfig "$dir/kc" set image "deploy/erp-svc0$n" "erp-svc0$n=registry.local/erp-svc0$n:v2.0.0" > /dev/null
done
: > "$dir/latency"
end=$(( $(date +%s) + secs ))
while [ "$(date +%s)" -lt "$end" ]; do ask >> "$dir/latency"; sleep 2; done
c1=$(ticks "$pid"); s1=$(ticks "$simpid"); w1=$(switches "$pid"); t1=$(date +%s.%N)
k1=0; [ -n "$kpid" ] && k1=$(ticks "$kpid")
rolled=$(kubectl --kubeconfig "$dir/kc" get deploy -o jsonpath='{range .items[*]}{.status.updatedReplicas}{" "}{end}' | tr ' ' '\n' | awk '{n += $1} END {print n}')
awk -v c="$((c1 - c0))" -v s="$((s1 - s0))" -v w="$((w1 - w0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" -v rolled="$rolled" 'BEGIN {
  dt = t1 - t0
  printf "rollout of 1000 pods, %.0f s window (%d pods on the new template at its end):\n", dt, rolled
  printf "  console CPU: %.2f s, %.2f%% of one core; %.1f wake-ups/s\n", c / hz, 100 * c / hz / dt, w / dt
  printf "  simulator CPU: %.2f s, %.2f%% of one core\n", s / hz, 100 * s / hz / dt
}'
if [ -n "$kpid" ]; then
  awk -v c="$((c1 - c0))" -v k="$((k1 - k0))" -v hz="$hz" -v t0="$t0" -v t1="$t1" 'BEGIN {
    dt = t1 - t0
    printf "  kdash CPU, same window: %.2f s, %.2f%% of one core (console %.2f× kdash)\n", k / hz, 100 * k / hz / dt, (k > 0 ? c / k : 0)
  }'
else
  echo "  kdash is not installed (cargo install kdash --locked): no side-by-side figure"
fi
sort -n "$dir/latency" | awk '{v[NR] = $1} END {printf "  query latency during the rollout: median %.0f ms, max %.0f ms (%d queries)\n", 1000 * v[int((NR + 1) / 2)], 1000 * v[NR], NR}'
printf '  RSS: console %d KiB, simulator %d KiB\n' "$(rss_kb "$pid")" "$(rss_kb "$simpid")"
tmux -L "$sock" send-keys -t run q
