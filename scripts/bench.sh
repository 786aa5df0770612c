#!/usr/bin/env bash
# Performance comparisons printed side by side (make bench):
#   1. kvbench vs memcaslap driving the same real memcached (2 threads),
#      32 connections, 100-byte values, 90% get.
#   2. memkv vs real memcached under the same kvbench load.
#   3. shm vs memkv at the same -n/-w, and shm's -n x -w x server-threads matrix.
# Every server binds 127.0.0.1 and is stopped by PID; every load is bounded.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin/kvbench}
DUR=${DUR:-10s}
OUT=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$OUT"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not ready" >&2; return 1; }
# field FILE SECTION METRIC -> value from a YCSB-format summary
field() { awk -F', ' -v s="[$2]" -v m="$3" '$1==s && $2==m {print $3}' "$1"; }

LOAD=(--workload a -p readproportion=0.9 -p updateproportion=0.1 -p fieldcount=1 -p fieldlength=100 --records 10000 --duration "$DUR" -q --out "$OUT/runs")

printf '\n== 1. load generators against one real memcached (-t 2), 32 connections, 100 B values, 90%% get, %s ==\n' "$DUR"
if command -v memcached >/dev/null && command -v memcaslap >/dev/null; then
  port=$(free_port)
  memcached -u "$(id -un)" -l 127.0.0.1 -p "$port" -t 2 -m 1024 -U 0 & pids+=($!)
  wait_port "$port"
  memcaslap -s "127.0.0.1:$port" -T 2 -c 32 -X 100 -t "$DUR" > "$OUT/memcaslap.txt" 2>&1 || true
  caslap=$(awk '/^Run time:/ {for (i=1;i<=NF;i++) if ($i=="TPS:") print $(i+1)}' "$OUT/memcaslap.txt" | tail -1)
  "$BIN" run --target "memcached://127.0.0.1:$port" -n 32 "${LOAD[@]}" > "$OUT/kv-mc.txt"
  printf '%-34s %12s ops/s\n' "memcaslap -T 2 -c 32" "${caslap:-n/a}"
  printf '%-34s %12s ops/s  p99 READ %s us\n' "kvbench -n 32 -w 1" \
    "$(field "$OUT/kv-mc.txt" OVERALL 'Throughput(ops/sec)')" "$(field "$OUT/kv-mc.txt" READ '99thPercentileLatency(us)')"
  "$BIN" run --target "memcached://127.0.0.1:$port" -n 2 -w 16 "${LOAD[@]}" > "$OUT/kv-mc-w.txt"
  printf '%-34s %12s ops/s  p99 READ %s us\n' "kvbench -n 2 -w 16 (32 in flight)" \
    "$(field "$OUT/kv-mc-w.txt" OVERALL 'Throughput(ops/sec)')" "$(field "$OUT/kv-mc-w.txt" READ '99thPercentileLatency(us)')"
else
  echo "memcached or memcaslap not installed (apt-get install memcached libmemcached-tools)"
fi

printf '\n== 2. memkv vs memcached under the same kvbench load ==\n'
for nw in "32 1" "2 16"; do
  set -- $nw
  if [ -n "${port:-}" ]; then
    f="$OUT/kv-mc.txt"; [ "$2" = 16 ] && f="$OUT/kv-mc-w.txt"
    printf '%-34s %12s ops/s  p99 READ %s us\n' "memcached -t 2, -n $1 -w $2" \
      "$(field "$f" OVERALL 'Throughput(ops/sec)')" "$(field "$f" READ '99thPercentileLatency(us)')"
  fi
  for fsync in always never; do
    "$BIN" run --impl memkv --impl-flags "--fsync $fsync" -n "$1" -w "$2" "${LOAD[@]}" > "$OUT/memkv-$fsync.txt"
    printf '%-34s %12s ops/s  p99 READ %s us\n' "memkv --fsync $fsync, -n $1 -w $2" \
      "$(field "$OUT/memkv-$fsync.txt" OVERALL 'Throughput(ops/sec)')" "$(field "$OUT/memkv-$fsync.txt" READ '99thPercentileLatency(us)')"
  done
done

printf '\n== 3. shm vs memkv, CS537 stream (50%% put), same -n/-w ==\n'
"$BIN" gen 200000 -r 0.5 --seed 1 > "$OUT/workload.txt"
for nw in "1 1" "3 2" "4 16"; do
  set -- $nw
  "$BIN" run --impl shm -n "$1" -w "$2" -i "$OUT/workload.txt" -q --out "$OUT/runs" > "$OUT/shm.txt"
  "$BIN" run --impl memkv -n "$1" -w "$2" -i "$OUT/workload.txt" -q --out "$OUT/runs" > "$OUT/memkv.txt"
  s=$(field "$OUT/shm.txt" OVERALL 'Throughput(ops/sec)'); m=$(field "$OUT/memkv.txt" OVERALL 'Throughput(ops/sec)')
  printf 'n=%s w=%-3s shm %12s ops/s   memkv %12s ops/s   ratio %.1fx\n' "$1" "$2" "$s" "$m" "$(echo "$s / $m" | bc -l)"
done
