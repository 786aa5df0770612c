#!/bin/sh
# The madkv benchmark of impls/madkv/doc.go ("Performance"). Run from a
# scratch directory with K=path/to/kvbench; results also go to ./runs.
# YCSB-A, 10 clients, 1000 records, 5 s per run, configurations interleaved, 3 repetitions.
K=${K:-kvbench}
for rep in 1 2 3; do
  for cfg in "madkv|" "memkv|--fsync never" "madkv|--partitions 1" "madkv|--partitions 3" "memkv|--fsync always"; do
    impl=${cfg%%|*}; fl=${cfg#*|}
    printf '%s %s rep%s ' "$impl" "${fl:-stage1}" "$rep"
    $K run --impl $impl ${fl:+--impl-flags "$fl"} --workload a -n 10 --records 1000 --duration 5s --seed 1 --out runs -q 2>&1 |
      awk -F', ' '/OVERALL\], Throughput/{t=$3} /READ\], 99thPercentile/{r=$3} /UPDATE\], 99thPercentile/{u=$3} END{printf "ops/s %.0f  p99 read %s us  p99 update %s us\n", t, r, u}'
  done
  printf 'exec:madkv stage1 rep%s ' "$rep"
  $K serve madkv server 127.0.0.1:15777 2>/dev/null & pid=$!
  sleep 0.3
  $K run --target "exec:$K client madkv 127.0.0.1:15777" --workload a -n 10 --records 1000 --duration 5s --seed 1 --out runs -q 2>&1 |
    awk -F', ' '/OVERALL\], Throughput/{t=$3} /READ\], 99thPercentile/{r=$3} /UPDATE\], 99thPercentile/{u=$3} END{printf "ops/s %.0f  p99 read %s us  p99 update %s us\n", t, r, u}'
  kill $pid; wait $pid 2>/dev/null
done
