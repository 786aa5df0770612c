#!/usr/bin/env bash
# memkv vs memcached under the same kvbench load, interleaved rounds.
#
#   scripts/memkv-vs-memcached.sh                   # --fsync never and always
#   MKV_FSYNC=never MKV_CONFIGS="4:1 2:16" MKV_ROUNDS=5 scripts/memkv-vs-memcached.sh
#   MKV_BASE=/tmp/kvbench-old scripts/memkv-vs-memcached.sh   # also an older memkv
#   MKV_BASE=bin/kvbench MKV_BASE_FLAGS="--loop go" scripts/memkv-vs-memcached.sh
#                                     # memkv's event loops vs a goroutine each
#
# Sides: memcached 1.6 (-t 2 -U 0), memkv from $BIN (`kvbench serve memkv`,
# one server per --fsync mode, data in a temp dir), and with MKV_BASE a
# second memkv from another kvbench binary (A/B of two memkv builds). All
# servers run for the whole script. Each configuration "N:W" (-n N -w W)
# runs once per side per round; rounds are interleaved (A B C, B C A, ...:
# each round starts one side later), so the shared machine's slow phases hit
# every side. Load: 100-byte values, 90% get / 10% update, 1000 records.
#
# Per side and configuration it prints the median ops/s over the rounds with
# [min-max]; server CPU per operation (utime+stime of the server process
# from /proc/PID/stat around the whole trial, load phase included, divided
# by the trial's operations) in µs; for memkv, log fsyncs per write (stats
# log_fsyncs and log_records, or cmd_set from a memkv without log_records,
# around the trial; the load phase's inserts count as writes); and the median of the per-round ratios memkv/memcached. "load"
# With perf (raw_syscalls:sys_enter on the server's PID), also the server's
# syscalls per operation. "load"
# is the 1-minute load average (2 cores here) at the start of each round.
#
# Knobs: BIN (kvbench binary, default bin/kvbench), MKV_FLAGS (more flags
# for its memkv, e.g. "--loop go"), MKV_BASE, MKV_BASE_FLAGS, MKV_ROUNDS (3),
# MKV_DUR (5s), MKV_CONFIGS ("1:1 4:1 16:1 32:1 64:1 256:1 2:16"),
# MKV_FSYNC ("never always"). Servers bind 127.0.0.1, are stopped by PID,
# and every trial is bounded by timeout(1).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${BIN:-bin/kvbench}")
BASE=${MKV_BASE:+$(realpath "$MKV_BASE")}
ROUNDS=${MKV_ROUNDS:-3}
DUR=${MKV_DUR:-5s}
CONFIGS=${MKV_CONFIGS:-1:1 4:1 16:1 32:1 64:1 256:1 2:16}
FSYNCS=${MKV_FSYNC:-never always}
HZ=$(getconf CLK_TCK)
# Server syscalls per operation via perf's raw_syscalls tracepoint, when
# perf may count it here (MKV_PERF=0 turns it off).
PERF=0
if [ "${MKV_PERF:-1}" = 1 ] && command -v perf >/dev/null &&
  perf stat -e raw_syscalls:sys_enter -- true >/dev/null 2>&1; then PERF=1; fi
OUT=$(mktemp -d)
RES=$OUT/results.tsv
: > "$RES"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  sleep 1
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

. scripts/lib.sh   # free_port, wait_port, load1 (the working directory is the repository's root)
ticks() { awk '{print $14+$15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# stat PORT NAME: one counter from `stats` (0 when absent).
stat() {
  python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"stats\r\n"); buf = b""
while not buf.endswith(b"END\r\n"):
    d = s.recv(65536)
    if not d: break
    buf += d
v = "0"
for line in buf.decode().split("\r\n"):
    p = line.split(" ")
    if len(p) == 3 and p[1] == sys.argv[2]: v = p[2]
print(v)
EOF
}

declare -A PORT PID
sides=()
start() { # NAME CMD...
  local name=$1; shift
  local port; port=$(free_port)
  "$@" --addr "127.0.0.1:$port" > "$OUT/$name.log" 2>&1 &
  PID[$name]=$!; PORT[$name]=$port; pids+=($!)
  wait_port "$port" || exit 1
  sides+=("$name")
}
mc_port=$(free_port)
memcached -t 2 -U 0 -c 4096 -l 127.0.0.1 -p "$mc_port" -u root > "$OUT/memcached.log" 2>&1 &
PID[memcached]=$!; PORT[memcached]=$mc_port; pids+=($!); sides+=(memcached)
wait_port "$mc_port" || exit 1
for f in $FSYNCS; do
  mkdir -p "$OUT/d-$f" "$OUT/b-$f"
  # shellcheck disable=SC2086 # the *_FLAGS are lists of flags
  start "memkv-$f" "$BIN" serve memkv --data "$OUT/d-$f" --fsync "$f" --conn-limit 4096 ${MKV_FLAGS:-}
  # shellcheck disable=SC2086
  [ -n "$BASE" ] && start "base-$f" "$BASE" serve memkv --data "$OUT/b-$f" --fsync "$f" --conn-limit 4096 ${MKV_BASE_FLAGS:-}
done

echo "# memkv vs memcached: ${ROUNDS} rounds x ${DUR}, configs $CONFIGS, $(nproc) cores, $(uname -r)"
echo "# memkv: $BIN ${MKV_FLAGS:-}${BASE:+; base: $BASE ${MKV_BASE_FLAGS:-}}; memcached $(memcached -V | cut -d' ' -f2) -t 2"
k=${#sides[@]}
for r in $(seq "$ROUNDS"); do
  l=$(load1)
  for cfg in $CONFIGS; do
    n=${cfg%%:*}; w=${cfg##*:}
    for i in $(seq 0 $((k - 1))); do
      s=${sides[$(((i + r) % k))]}
      p=${PORT[$s]}
      perfpid=
      if [ "$PERF" = 1 ]; then
        perf stat -x, -e raw_syscalls:sys_enter -p "${PID[$s]}" -o "$OUT/perf.txt" 2>/dev/null &
        perfpid=$!
      fi
      sets0=$(stat "$p" cmd_set); recs0=$(stat "$p" log_records); fs0=$(stat "$p" log_fsyncs); t0=$(ticks "${PID[$s]}")
      o=$(timeout 120 "$BIN" run --target "memcached://127.0.0.1:$p" --out "$OUT/runs" \
        -p readproportion=0.9 -p updateproportion=0.1 -p fieldcount=1 -p fieldlength=100 \
        --records 1000 --duration "$DUR" -n "$n" -w "$w" -q 2>&1)
      t1=$(ticks "${PID[$s]}"); sets1=$(stat "$p" cmd_set); recs1=$(stat "$p" log_records); fs1=$(stat "$p" log_fsyncs)
      if [ -n "$perfpid" ]; then kill -INT "$perfpid" 2>/dev/null; wait "$perfpid" 2>/dev/null; fi
      # Writes: log records where the server counts them, else sets.
      [ "$recs1" != 0 ] && { sets0=$recs0; sets1=$recs1; }
      tput=$(awk -F', ' '/\[OVERALL\], Throughput/{print $3}' <<< "$o")
      ops=$(awk -F', ' '/\], Operations, /{s+=$3} END{print s+1000}' <<< "$o")
      if [ -z "$tput" ]; then echo "round $r $s $cfg failed: $(tail -3 <<< "$o")" >&2; continue; fi
      sc=-
      [ -n "$perfpid" ] && sc=$(awk -F, -v o="$ops" '/raw_syscalls/{printf "%.2f", $1/o}' "$OUT/perf.txt")
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$cfg" "$s" "$tput" \
        "$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v o="$ops" 'BEGIN{printf "%.2f", t/hz/o*1e6}')" \
        "$(awk -v f=$((fs1 - fs0)) -v s=$((sets1 - sets0)) 'BEGIN{if (s>0) printf "%.3f", f/s; else print "-"}')" "$l" "${sc:--}" >> "$RES"
    done
  done
  echo "# round $r done, load $l" >&2
done

python3 - "$RES" "$CONFIGS" "${sides[*]}" <<'EOF'
import sys, statistics as st, collections
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
configs, sides = sys.argv[2].split(), sys.argv[3].split()
d = collections.defaultdict(dict)  # (cfg, side) -> round -> (tput, cpu, fs)
loads = sorted({float(r[6]) for r in rows})
for r, cfg, s, t, cpu, fs, _, sc in rows:
    d[(cfg, s)][r] = (float(t), float(cpu), fs, sc)
def med(xs): return st.median(xs) if xs else float("nan")
print("load average per round: " + " ".join(f"{x:.2f}" for x in loads))
print(f"{'-n:-w':<7}{'side':<14}{'ops/s median [min-max]':>30}{'cpu us/op':>11}{'sysc/op':>9}{'fsync/wr':>10}{'vs memcached':>26}")
for cfg in configs:
    mc = d.get((cfg, "memcached"), {})
    for s in sides:
        v = d.get((cfg, s), {})
        if not v: continue
        ts = [x[0] for x in v.values()]
        cpu = med([x[1] for x in v.values()])
        scs = [float(x[3]) for x in v.values() if x[3] != "-"]
        sc = f"{med(scs):.2f}" if scs else "-"
        fs = [float(x[2]) for x in v.values() if x[2] != "-"]
        fss = f"{med(fs):.3f}" if s != "memcached" and fs else "-"
        ratios = [v[r][0] / mc[r][0] for r in v if r in mc and mc[r][0] > 0]
        cr = [v[r][1] / mc[r][1] for r in v if r in mc and mc[r][1] > 0]
        rs = f"{med(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}] cpu {med(cr):.2f}x" if s != "memcached" and ratios else ""
        print(f"{cfg:<7}{s:<14}{med(ts):>12.0f} [{min(ts):>7.0f}-{max(ts):>7.0f}]{cpu:>11.2f}{sc:>9}{fss:>10}{rs:>34}")
EOF
