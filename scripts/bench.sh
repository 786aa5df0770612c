#!/usr/bin/env bash
# make bench: kvbench against its anchors, side by side, in one run.
#
#   1. load generators against one real memcached (-t 2), 100-byte values,
#      90% get: memcaslap -T 2 -c 32 and go-ycsb (threadcount 32, zipfian
#      like YCSB workload a, stopped by SIGTERM after BENCH_DUR) vs kvbench
#      -n 32 -w 1 and -n 2 -w 16. go-ycsb is $GO_YCSB (make bench: bin/go-ycsb)
#      or go-ycsb on PATH. It cannot be `go install`ed (its go.mod has a
#      replace directive) and v1.0.3 ships no memcached binding:
#      scripts/build-go-ycsb.sh [OUT] builds it with kvbench's binding
#      (scripts/_go-ycsb/memcached) by `go mod download` of the module and
#      `go build ./cmd/go-ycsb` in a copy of it. Without it (or with a build
#      that lacks the binding) the go-ycsb row says so;
#   2. memkv (--fsync never, --fsync always; its default --loop epoll, or
#      what BENCH_MEMKV_FLAGS says, e.g. "--loop go") vs memcached under the
#      same kvbench load (-n 1, 4, 32, 256 and -n 2 -w 16);
#   3. shm on the CS537 stream (kvbench gen, 50% put): Go server + Go client
#      vs the course-style C server + C client (impls/shm/testdata, compiled
#      here with gcc), and the crossed pairs, at -n {1,3,4} x -w {1,2,8,16,32};
#   4. kvbench's peak RSS against memkv at -n 1, 16, 128, 1000;
#   5. a recorded history's bytes per op and the checker's time (kvbench
#      fuzz, conflicting clients: 5 x 1 000, 5 x 20 000 and 85 x 500 ops);
#   6. shm vs an in-process Go map behind the same client and driver loop;
#   7. shm vs memkv on YCSB-C at -n 2 -w 8.
#
# Every configuration runs once per round and the rounds are interleaved
# (A B C, A B C, ...), so slow phases of a shared machine hit every side.
# Each figure is the median over the rounds with [min-max]; a ratio is the
# median of the per-round ratios [min-max]. CPU per operation: for the
# network loads, utime+stime from /proc/PID/stat of the load generator and
# of the server, sampled every 0.1 s, over the load generator's busiest
# window of BENCH_DUR-0.6 s (its measured phase), divided by the reported
# throughput; for
# shm, the whole run of client and server (getrusage via /usr/bin/time,
# process start included) divided by the operations. "load" is the 1-minute
# load average at each trial (2 cores here).
#
# Knobs: GO_YCSB (the go-ycsb binary), BENCH_ROUNDS (3; 1 is the quick
# mode), BENCH_DUR (seconds of measured load per network trial, 2),
# BENCH_SHM_OPS (200000),
# BENCH_SECTIONS ("loadgen memkv shm rss history ceiling ycsbc"), BENCH_MEMKV_FLAGS,
# BENCH_SHM_ROUNDS (5: the shm section's rounds, whose spread it reports), BENCH_SHM_N, BENCH_SHM_W,
# BENCH_RSS_N. Every server binds 127.0.0.1 and is stopped by PID; every
# trial is bounded by timeout(1).
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${BIN:-bin/kvbench}")
GO_YCSB=${GO_YCSB:-$(command -v go-ycsb || true)}
ROUNDS=${BENCH_ROUNDS:-3}
DUR=${BENCH_DUR:-2}
SHM_OPS=${BENCH_SHM_OPS:-200000}
SECTIONS=${BENCH_SECTIONS:-loadgen memkv shm rss history ceiling ycsbc}
SHM_ROUNDS=${BENCH_SHM_ROUNDS:-5}
SHM_N=${BENCH_SHM_N:-1 3 4}
SHM_W=${BENCH_SHM_W:-1 2 8 16 32}
RSS_N=${BENCH_RSS_N:-1 16 128 1000}
HZ=$(getconf CLK_TCK)
OUT=$(mktemp -d)
RES=$OUT/results.tsv
: > "$RES"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 40); do
    alive=0; for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break; sleep 0.05
  done
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$OUT"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

have() { command -v "$1" >/dev/null; }
. scripts/lib.sh   # free_port, wait_port, load1 (the working directory is the repository's root)
# ticks PID: utime+stime of PID in clock ticks, or - once it is gone.
ticks() {
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo -; return; }
  # shellcheck disable=SC2086
  set -- ${s##*) }
  echo $(( ${12} + ${13} ))
}
# field FILE SECTION METRIC: a value from a YCSB-format summary.
field() { awk -F', ' -v s="[$2]" -v m="$3" '$1==s && $2==m {print $3}' "$1"; }
# record KEY ROUND OPS/S CLIENT-CPU SERVER-CPU LOAD [RSS-KB]
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${3:--}" "${4:--}" "${5:--}" "${6:--}" "${7:--}" >> "$RES"; }

# net_trial KEY ROUND SERVER-PID PARSER -- CMD...: runs CMD (a load against
# the server) sampling its CPU and the server's; PARSER FILE prints ops/s.
net_trial() {
  local key=$1 round=$2 spid=$3 parser=$4; shift 5
  local ld; ld=$(load1)
  timeout -k 5 $((DUR * 4 + 60)) "$@" > "$OUT/o.txt" 2> "$OUT/e.txt" &
  local cp=$!
  : > "$OUT/s.txt"
  while kill -0 "$cp" 2>/dev/null; do
    # the load generator is the innermost process under timeout (go-ycsb
    # runs under a second timeout that stops it)
    local c cc; c=$(pgrep -P "$cp" | head -1)
    while [ -n "$c" ] && cc=$(pgrep -P "$c" | head -1) && [ -n "$cc" ]; do c=$cc; done
    [ -n "$c" ] && echo "$EPOCHREALTIME $(ticks "$c") $(ticks "$spid")" >> "$OUT/s.txt"
    sleep 0.1
  done
  wait "$cp" || { echo "  $key round $round failed: $(tail -2 "$OUT/e.txt")" >&2; return; }
  local tput; tput=$("$parser" "$OUT/o.txt")
  [ -n "$tput" ] || { echo "  $key round $round: no throughput in output" >&2; return; }
  # CPU-s per million ops over the steady tail of the run.
  read -r cc sc < <(awk -v w="$DUR" -v hz="$HZ" -v tp="$tput" '
    $2 != "-" && $3 != "-" { n++; t[n]=$1; c[n]=$2; s[n]=$3 }
    END {
      if (n < 3 || tp <= 0) { print "- -"; exit }
      w = w - 0.6; if (w < 0.3) w = 0.3
      # the busiest window of about w seconds: the measured phase
      best = -1; j = 1
      for (i = 1; i <= n; i++) {
        while (j < n && t[j+1] - t[i] <= w) j++
        if (j > i && c[j] - c[i] > best) { best = c[j] - c[i]; bi = i; bj = j }
      }
      if (best < 0) { print "- -"; exit }
      dt = t[bj] - t[bi]
      printf "%.2f %.2f\n", (c[bj]-c[bi])/hz/dt/tp*1e6, (s[bj]-s[bi])/hz/dt/tp*1e6 }' "$OUT/s.txt")
  record "$key" "$round" "$tput" "$cc" "$sc" "$ld"
}
kv_tput() { field "$1" OVERALL 'Throughput(ops/sec)'; }
caslap_tput() { awk '/^Run time:/ {for (i=1;i<=NF;i++) if ($i=="TPS:") v=$(i+1)} END {print v}' "$1"; }
goycsb_tput() { awk -F'OPS: ' '/^TOTAL/ {split($2, a, ","); v=a[1]} END {print v}' "$1"; }

# proc_trial KEY ROUND OPS PARSER DIR -- CMD...: runs CMD (client and
# server, to completion) in DIR under /usr/bin/time; CPU per op is the
# whole process tree's.
proc_trial() {
  local key=$1 round=$2 ops=$3 parser=$4 dir=$5; shift 6
  local ld; ld=$(load1)
  rm -rf "$dir"; mkdir -p "$dir"
  if ! (cd "$dir" && timeout -k 5 120 /usr/bin/time -f '%U %S %M' -o "$OUT/time.txt" "$@" > "$OUT/o.txt" 2> "$OUT/e.txt"); then
    echo "  $key round $round failed: $(tail -2 "$OUT/e.txt")" >&2; return
  fi
  local tput; tput=$("$parser" "$OUT/o.txt")
  [ -n "$tput" ] || { echo "  $key round $round: no throughput in output" >&2; return; }
  local cpu; cpu=$(awk -v n="$ops" '{printf "%.2f", ($1+$2)/n*1e6}' "$OUT/time.txt")
  record "$key" "$round" "$tput" "$cpu" - "$ld" "$(awk '{print $3}' "$OUT/time.txt")"
}
c_tput() { awk '/^Throughput:/ {printf "%.0f\n", $2*1000}' "$1"; }

# med KEY COLUMN: "median min max" of a column (3 ops/s, 4 client CPU,
# 5 server CPU, 6 load, 7 RSS) over the rounds of KEY.
med() {
  awk -F'\t' -v k="$1" -v c="$2" '$1==k && $c!="-" {print $c}' "$RES" | sort -g |
    awk '{v[NR]=$1} END { if (!NR) { print "- - -"; exit }
      m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; print m, v[1], v[NR] }'
}
# ratio A B: median [min-max] of the per-round ops/s ratio A/B.
ratio() {
  awk -F'\t' -v a="$1" -v b="$2" '$3!="-" && $1==a {x[$2]=$3} $3!="-" && $1==b {y[$2]=$3}
    END { for (r in x) if ((r in y) && y[r] > 0) print x[r]/y[r] }' "$RES" | sort -g |
    awk '{v[NR]=$1} END { if (!NR) { print "-"; exit }
      m = NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.2fx [%.2f-%.2f]\n", m, v[1], v[NR] }'
}
# spread KEY: how far the rounds of KEY strayed from their median ops/s,
# "-12%/+8%".
spread() {
  med "$1" 3 | awk '$1=="-" || $1==0 {print "-"; exit} {printf "-%.0f%%/+%.0f%%\n", ($1-$2)/$1*100, ($3-$1)/$1*100}'
}
# fmt_ops KEY: "123.4k [100.1-130.2]"
fmt_ops() { med "$1" 3 | awk '$1=="-" {print "n/a"; exit} {printf "%.1fk [%.0f-%.0f]\n", $1/1e3, $2/1e3, $3/1e3}'; }
fmt_cpu() { med "$1" "$2" | awk '$1=="-" {print "-"; exit} {printf "%.1f\n", $1}'; }
fmt_load() { med "$1" 6 | awk '$1=="-" {print "-"; exit} {printf "%.1f\n", $1}'; }

printf '== kvbench make bench: %s rounds, %s, %s cores, %s ==\n' "$ROUNDS" "$(uname -m)" "$(nproc)" \
  "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
printf 'load average at start: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'ops/s are medians over rounds [min-max, in k]; CPU in CPU-seconds per million operations (median);\n'
printf 'ratios are medians of per-round ratios [min-max]; load = median 1-min load average at the trials.\n'

YCSB=(--workload a -p readproportion=0.9 -p updateproportion=0.1 -p fieldcount=1 -p fieldlength=100
  --records 10000 --duration "${DUR}s" -q --out "$OUT/runs")

# start_memcached / start_memkv FSYNC set PORT and PID (and remember PID).
start_memcached() {
  PORT=$(free_port)
  memcached -u "$(id -un)" -l 127.0.0.1 -p "$PORT" -t 2 -m 1024 -U 0 -c 4096 > /dev/null 2>&1 &
  PID=$!; pids+=("$PID"); disown "$PID"
}
start_memkv() {
  PORT=$(free_port)
  mkdir -p "$OUT/memkv-$1"
  # shellcheck disable=SC2086 # BENCH_MEMKV_FLAGS is a list of flags
  "$BIN" serve memkv --addr "127.0.0.1:$PORT" --data "$OUT/memkv-$1" --fsync "$1" --conn-limit 2048 ${BENCH_MEMKV_FLAGS:-} > /dev/null 2>&1 &
  PID=$!; pids+=("$PID"); disown "$PID"
}

have_mc=0
if have memcached; then
  start_memcached; MC_PORT=$PORT MC_PID=$PID; wait_port "$MC_PORT" && have_mc=1
fi

# ---------------------------------------------------------------- 1
if [[ " $SECTIONS " == *" loadgen "* ]]; then
  printf '\n== 1. load generators against one memcached -t 2: 32 connections, 100 B values, 90%% get, %ss per trial ==\n' "$DUR"
  if [ $have_mc = 1 ] && have memcaslap; then
    GY=(-p workload=core -p recordcount=10000 -p requestdistribution=zipfian -p readproportion=0.9 -p updateproportion=0.1
      -p insertproportion=0 -p scanproportion=0 -p readmodifywriteproportion=0 -p fieldcount=1 -p fieldlength=100
      -p "memcached.addr=127.0.0.1:$MC_PORT")
    gy_note="(go-ycsb not found (GO_YCSB, PATH): not measured; scripts/build-go-ycsb.sh builds it)"
    if [ ! -x "$GO_YCSB" ]; then :
    elif [[ $(timeout 20 "$GO_YCSB" run memcached -p operationcount=0 "${GY[@]}" 2>&1) == *"not registered"* ]]; then
      gy_note="($GO_YCSB has no memcached binding (v1.0.3 ships none; scripts/build-go-ycsb.sh adds kvbench's): not measured)"
    elif ! timeout 60 "$GO_YCSB" load memcached "${GY[@]}" -p threadcount=8 > "$OUT/gy-load.txt" 2>&1; then
      gy_note="(go-ycsb load failed: $(tail -1 "$OUT/gy-load.txt"))"
    else
      gy_note=
    fi
    for r in $(seq "$ROUNDS"); do
      net_trial caslap "$r" "$MC_PID" caslap_tput -- memcaslap -s "127.0.0.1:$MC_PORT" -T 2 -c 32 -X 100 -t "${DUR}s"
      [ -z "$gy_note" ] && net_trial goycsb "$r" "$MC_PID" goycsb_tput -- timeout --preserve-status -s TERM "${DUR}s" \
        "$GO_YCSB" run memcached "${GY[@]}" -p threadcount=32 -p operationcount=1000000000
      net_trial kv32 "$r" "$MC_PID" kv_tput -- "$BIN" run --target "memcached://127.0.0.1:$MC_PORT" -n 32 "${YCSB[@]}"
      net_trial kv2x16 "$r" "$MC_PID" kv_tput -- "$BIN" run --target "memcached://127.0.0.1:$MC_PORT" -n 2 -w 16 "${YCSB[@]}"
    done
    printf '%-32s %24s %12s %12s %22s %22s %6s\n' "load generator" "ops/s" "gen CPU/Mop" "memcd CPU/Mop" "vs memcaslap" "vs go-ycsb" "load"
    for k in caslap:"memcaslap -T 2 -c 32" goycsb:"go-ycsb threadcount=32" kv32:"kvbench -n 32 -w 1" kv2x16:"kvbench -n 2 -w 16 (pipelined)"; do
      key=${k%%:*}
      [ "$key" = goycsb ] && [ -n "$gy_note" ] && continue
      printf '%-32s %24s %12s %12s %22s %22s %6s\n' "${k#*:}" "$(fmt_ops "$key")" "$(fmt_cpu "$key" 4)" "$(fmt_cpu "$key" 5)" \
        "$(ratio "$key" caslap)" "$(ratio "$key" goycsb)" "$(fmt_load "$key")"
    done
    [ -n "$gy_note" ] && echo "$gy_note"
  else
    echo "memcached or memcaslap not installed (apt-get install memcached libmemcached-tools): skipped"
  fi
fi

# ---------------------------------------------------------------- 2
if [[ " $SECTIONS " == *" memkv "* ]]; then
  printf '\n== 2. memkv%s vs memcached -t 2 under the same kvbench load (100 B values, 90%% get, %ss per trial) ==\n' "${BENCH_MEMKV_FLAGS:+ $BENCH_MEMKV_FLAGS}" "$DUR"
  start_memkv never; NV_PORT=$PORT NV_PID=$PID; wait_port "$NV_PORT"
  start_memkv always; AL_PORT=$PORT AL_PID=$PID; wait_port "$AL_PORT"
  points=("1 1" "4 1" "32 1" "256 1" "2 16")
  for r in $(seq "$ROUNDS"); do
    for nw in "${points[@]}"; do
      set -- $nw
      [ $have_mc = 1 ] && net_trial "mc/$1/$2" "$r" "$MC_PID" kv_tput -- "$BIN" run --target "memcached://127.0.0.1:$MC_PORT" -n "$1" -w "$2" "${YCSB[@]}"
      net_trial "never/$1/$2" "$r" "$NV_PID" kv_tput -- "$BIN" run --target "memcached://127.0.0.1:$NV_PORT" -n "$1" -w "$2" "${YCSB[@]}"
      net_trial "always/$1/$2" "$r" "$AL_PID" kv_tput -- "$BIN" run --target "memcached://127.0.0.1:$AL_PORT" -n "$1" -w "$2" "${YCSB[@]}"
    done
  done
  printf '%-9s %22s %22s %22s %16s %16s %8s %5s\n' "-n/-w" "memcached ops/s" "memkv never" "memkv always" "never/memcd" "always/memcd" "srv CPU" "load"
  for nw in "${points[@]}"; do
    set -- $nw
    printf '%-9s %22s %22s %22s %16s %16s %8s %5s\n' "$1/$2" "$(fmt_ops "mc/$1/$2")" "$(fmt_ops "never/$1/$2")" "$(fmt_ops "always/$1/$2")" \
      "$(ratio "never/$1/$2" "mc/$1/$2" | cut -d' ' -f1)" "$(ratio "always/$1/$2" "mc/$1/$2" | cut -d' ' -f1)" \
      "$(fmt_cpu "mc/$1/$2" 5)/$(fmt_cpu "never/$1/$2" 5)/$(fmt_cpu "always/$1/$2" 5)" "$(fmt_load "never/$1/$2")"
  done
  echo "(srv CPU: server CPU-s per million ops, memcached/never/always; ratios are medians of per-round ratios)"
fi

# ---------------------------------------------------------------- 3
if [[ " $SECTIONS " == *" shm "* ]]; then
  printf '\n== 3. shm, CS537 stream (%s ops, 50%% put), 2 server threads, %s rounds: Go vs the course-style C ==\n' "$SHM_OPS" "$SHM_ROUNDS"
  if have gcc; then
    mkdir -p "$OUT/c"
    gcc -O2 -pthread -o "$OUT/c/client" impls/shm/testdata/client.c &&
      gcc -O2 -pthread -o "$OUT/c/server" impls/shm/testdata/server.c || { echo "gcc failed" >&2; exit 1; }
    "$BIN" gen "$SHM_OPS" -r 0.5 --seed 1 > "$OUT/workload.txt"
    C=$OUT/c W=$OUT/workload.txt
    for r in $(seq "$SHM_ROUNDS"); do
      for n in $SHM_N; do
        for w in $SHM_W; do
          proc_trial "cc/$n/$w" "$r" "$SHM_OPS" c_tput "$OUT/t" -- "$C/client" -n "$n" -w "$w" -i "$W" -- "$C/server" -n 2 -s 1000
          proc_trial "gg/$n/$w" "$r" "$SHM_OPS" kv_tput "$OUT/t" -- "$BIN" run --impl shm --server-threads 2 --table-size 1000 -n "$n" -w "$w" -i "$W" -q --out "$OUT/runs"
          proc_trial "cg/$n/$w" "$r" "$SHM_OPS" c_tput "$OUT/t" -- "$C/client" -n "$n" -w "$w" -i "$W" -- "$BIN" serve shm -n 2 -s 1000
          proc_trial "gc/$n/$w" "$r" "$SHM_OPS" kv_tput "$OUT/t" -- "$BIN" run --target shm:./shmem_file --serve "$C/server -n 2 -s 1000" -n "$n" -w "$w" -i "$W" -q --out "$OUT/runs"
        done
      done
    done
    printf '%-6s %20s %20s %20s %20s %22s %22s %22s %5s\n' "-n/-w" "C srv+C cli ops/s" "Go srv+Go cli" "Go srv+C cli" "C srv+Go cli" \
      "GoGo/CC" "GoSrv+Ccli/CC" "CSrv+Gocli/CC" "load"
    for n in $SHM_N; do
      for w in $SHM_W; do
        printf '%-6s %20s %20s %20s %20s %22s %22s %22s %5s\n' "$n/$w" "$(fmt_ops "cc/$n/$w")" "$(fmt_ops "gg/$n/$w")" "$(fmt_ops "cg/$n/$w")" "$(fmt_ops "gc/$n/$w")" \
          "$(ratio "gg/$n/$w" "cc/$n/$w")" "$(ratio "cg/$n/$w" "cc/$n/$w")" "$(ratio "gc/$n/$w" "cc/$n/$w")" "$(fmt_load "gg/$n/$w")"
      done
    done
    printf '%-6s %10s %10s %10s %10s   (client+server CPU-s per million ops, whole runs)\n' "-n/-w" "CC" "GoGo" "GoSrv+C" "CSrv+Go"
    for n in $SHM_N; do
      for w in $SHM_W; do
        printf '%-6s %10s %10s %10s %10s\n' "$n/$w" "$(fmt_cpu "cc/$n/$w" 4)" "$(fmt_cpu "gg/$n/$w" 4)" "$(fmt_cpu "cg/$n/$w" 4)" "$(fmt_cpu "gc/$n/$w" 4)"
      done
    done
    echo "(the C client's time starts after it forks the server, so the Go server's start-up counts against it)"
    printf '%-6s %14s %14s   (each pair'"'"'s ops/s over the %s rounds: farthest below and above its median)\n' "-n/-w" "C+C" "Go+Go" "$SHM_ROUNDS"
    within=0 points=0
    for n in $SHM_N; do
      for w in $SHM_W; do
        sp=$(spread "gg/$n/$w")
        printf '%-6s %14s %14s\n' "$n/$w" "$(spread "cc/$n/$w")" "$sp"
        points=$((points + 1))
        awk -v s="$sp" 'BEGIN { split(s, a, "/"); gsub(/[-+%]/, "", a[1]); gsub(/[-+%]/, "", a[2]); exit !(s != "-" && a[1]+0 <= 25 && a[2]+0 <= 25) }' && within=$((within + 1))
      done
    done
    echo "Go pair within ±25% of its median over $SHM_ROUNDS rounds at $within of $points points"
  else
    echo "gcc not installed: skipped"
  fi
fi

# ---------------------------------------------------------------- 4
if [[ " $SECTIONS " == *" rss "* ]]; then
  printf '\n== 4. kvbench peak RSS vs clients (closed loop against memkv --fsync never, %ss) ==\n' "$DUR"
  if [ -z "${NV_PORT:-}" ]; then start_memkv never; NV_PORT=$PORT NV_PID=$PID; wait_port "$NV_PORT"; fi
  for r in $(seq "$ROUNDS"); do
    for n in $RSS_N; do
      proc_trial "rss/$n" "$r" 1 kv_tput "$OUT/t" -- "$BIN" run --target "memcached://127.0.0.1:$NV_PORT" -n "$n" "${YCSB[@]}"
    done
  done
  printf '%-8s %14s %16s %20s %5s\n' "-n" "peak RSS MiB" "KiB per client" "ops/s" "load"
  base=$(med "rss/$(echo $RSS_N | cut -d' ' -f1)" 7 | cut -d' ' -f1)
  for n in $RSS_N; do
    m=$(med "rss/$n" 7 | cut -d' ' -f1)
    per=-; [ "$m" != - ] && [ "$base" != - ] && [ "$n" -gt 1 ] && per=$(( (m - base) / (n - 1) ))
    printf '%-8s %14s %16s %20s %5s\n' "$n" "$(awk -v m="$m" 'BEGIN {if (m=="-") print "-"; else printf "%.1f", m/1024}')" "$per" "$(fmt_ops "rss/$n")" "$(fmt_load "rss/$n")"
  done
fi
# ---------------------------------------------------------------- 5
# A recorded history's memory and the checker: kvbench fuzz against the
# bundled memkv (--fsync never), conflicting clients; the marginal bytes
# per op between a small and a large run are what recording (and checking)
# adds per operation; "check" is the time the fuzz line reports for the
# linearizability check.
if [[ " $SECTIONS " == *" history "* ]]; then
  printf '\n== 5. recorded history and checker (kvbench fuzz --impl memkv --conflict) ==\n'
  # hist_trial KEY ROUND CLIENTS OPS-PER-CLIENT KEYS
  hist_trial() {
    local ld; ld=$(load1)
    rm -rf "$OUT/h"
    if ! timeout -k 5 300 /usr/bin/time -f '%e %U %S %M' -o "$OUT/time.txt" "$BIN" fuzz --impl memkv --impl-flags '--fsync never' \
        --clients "$3" --conflict --keys "$5" --ops "$4" --out "$OUT/h" > "$OUT/o.txt" 2> "$OUT/e.txt"; then
      echo "  $1 round $2 failed: $(tail -2 "$OUT/o.txt" "$OUT/e.txt")" >&2; return
    fi
    # check time in ms, from "checked N ops in 349.04ms" (or 1.2s)
    local chk; chk=$(grep -o 'checked [0-9]* ops in [0-9.]*[mµ]*s' "$OUT/o.txt" | awk '{v=$5; u=v; sub(/[0-9.]+/, "", u); sub(/[mµ]*s$/, "", v);
      if (u=="ms") print v; else if (u=="µs") print v/1000; else print v*1000}')
    record "$1" "$2" "${chk:--}" "$(awk -v n="$(( $3 * $4 ))" '{printf "%.2f", ($2+$3)/n*1e6}' "$OUT/time.txt")" - "$ld" "$(awk '{print $4}' "$OUT/time.txt")"
  }
  for r in $(seq "$ROUNDS"); do
    hist_trial hist/5x1000 "$r" 5 1000 5
    hist_trial hist/5x20000 "$r" 5 20000 5
    hist_trial hist/85x500 "$r" 85 500 5
  done
  printf '%-28s %12s %14s %14s %5s\n' "run" "check ms" "CPU-s/Mop" "peak RSS MiB" "load"
  for k in 5x1000 5x20000 85x500; do
    printf '%-28s %12s %14s %14s %5s\n' "$k (clients x ops, 5 keys)" "$(med "hist/$k" 3 | awk '$1=="-" {print "-"; exit} {printf "%.0f [%.0f-%.0f]", $1, $2, $3}')" \
      "$(fmt_cpu "hist/$k" 4)" "$(med "hist/$k" 7 | awk '$1=="-" {print "-"; exit} {printf "%.1f", $1/1024}')" "$(fmt_load "hist/$k")"
  done
  small=$(med hist/5x1000 7 | cut -d' ' -f1); big=$(med hist/5x20000 7 | cut -d' ' -f1)
  [ "$small" != - ] && [ "$big" != - ] &&
    echo "recording and checking add $(( (big - small) * 1024 / 95000 )) B per op (peak RSS of 100 000 ops minus 5 000, over 95 000)"
fi
# ---------------------------------------------------------------- 6
# shm against an in-process Go map behind the same client interface and
# driver loop (impls/shm BenchmarkMatrix, 2 server threads, vs
# BenchmarkCeiling; go test, so it needs the source tree and go).
if [[ " $SECTIONS " == *" ceiling "* ]]; then
  printf '\n== 6. shm vs an in-process Go map (go test -bench Matrix/srv=2 vs Ceiling, 200 000 ops) ==\n'
  if have go; then
    for r in $(seq "$ROUNDS"); do
      ld=$(load1)
      SHM_BENCH_S=2 SHM_BENCH_N=1,2,4 SHM_BENCH_W=1,8,32 timeout 600 go test -run XXX -bench 'Matrix|Ceiling' \
        -benchtime 200000x ./impls/shm/ > "$OUT/g.txt" 2>&1 || { echo "  ceiling round $r failed: $(tail -2 "$OUT/g.txt")" >&2; continue; }
      awk -v r="$r" -v ld="$ld" '$1 ~ /^Benchmark(Matrix|Ceiling)\// {
          k = $1; sub(/^Benchmark/, "", k); sub(/-[0-9]+$/, "", k); sub(/srv=2\//, "", k)
          for (i = 3; i < NF; i++) if ($(i+1) == "ops/s") printf "%s\t%s\t%s\t-\t-\t%s\t-\n", k, r, $i, ld }' "$OUT/g.txt" >> "$RES"
    done
    printf '%-8s %22s %22s %22s\n' "-n/-w" "shm ops/s" "in-process map" "map / shm"
    for n in 1 2 4; do
      for w in 1 8 32; do
        printf '%-8s %22s %22s %22s\n' "$n/$w" "$(fmt_ops "Matrix/n=$n/w=$w")" "$(fmt_ops "Ceiling/n=$n/w=$w")" "$(ratio "Ceiling/n=$n/w=$w" "Matrix/n=$n/w=$w")"
      done
    done
  else
    echo "go not on PATH: skipped"
  fi
fi
# ---------------------------------------------------------------- 7
# shm against memkv on YCSB-C (read only, 1 000 records) at -n 2 -w 8,
# both bundled (kvbench starts each store); memkv --fsync never, as reads
# never wait for the disk anyway.
if [[ " $SECTIONS " == *" ycsbc "* ]]; then
  printf '\n== 7. shm vs memkv, YCSB-C, -n 2 -w 8, %ss ==\n' "$DUR"
  for r in $(seq "$ROUNDS"); do
    proc_trial "c/shm" "$r" 1 kv_tput "$OUT/t" -- "$BIN" run --impl shm --workload c -n 2 -w 8 --duration "${DUR}s" --out "$OUT/t/runs"
    proc_trial "c/memkv" "$r" 1 kv_tput "$OUT/t" -- "$BIN" run --impl memkv --impl-flags '--fsync never' --workload c -n 2 -w 8 --duration "${DUR}s" --out "$OUT/t/runs"
  done
  printf '%-10s %22s %6s\n' "store" "ops/s" "load"
  for k in shm memkv; do printf '%-10s %22s %6s\n' "$k" "$(fmt_ops "c/$k")" "$(fmt_load "c/$k")"; done
  echo "shm / memkv: $(ratio c/shm c/memkv)"
fi
printf '\nload average at end: %s; bench took %ds\n' "$(cut -d' ' -f1-3 /proc/loadavg)" "$SECONDS"
