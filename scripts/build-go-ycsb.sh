#!/usr/bin/env bash
# build-go-ycsb.sh [OUT]: builds go-ycsb v1.0.3 with kvbench's memcached
# binding (scripts/_go-ycsb/memcached) into OUT (default bin/go-ycsb), so
# `make bench` can measure it as a second load generator next to memcaslap.
#
# go-ycsb cannot be `go install`ed (its go.mod has a replace directive) and
# ships no memcached binding, so this copies the module from the Go module
# cache (fetched through the proxy), adds the binding and its import, and runs
# go build there. About two minutes and ~1 GB of module downloads the first time.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$(realpath -m "${1:-bin/go-ycsb}")
VERSION=v1.0.3
SRC=$(go mod download -json "github.com/pingcap/go-ycsb@$VERSION" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -r "$SRC" "$WORK/go-ycsb"
chmod -R u+w "$WORK/go-ycsb"
cp -r scripts/_go-ycsb/memcached "$WORK/go-ycsb/db/memcached"
sed -i 's#^\t_ "github.com/pingcap/go-ycsb/db/basic"#&\n\t_ "github.com/pingcap/go-ycsb/db/memcached"#' \
  "$WORK/go-ycsb/cmd/go-ycsb/main.go"
grep -q 'go-ycsb/db/memcached"' "$WORK/go-ycsb/cmd/go-ycsb/main.go" ||
  { echo "build-go-ycsb: could not register the memcached binding in cmd/go-ycsb/main.go" >&2; exit 1; }
mkdir -p "$(dirname "$OUT")"
(cd "$WORK/go-ycsb" && go build -o "$OUT" ./cmd/go-ycsb)
echo "built $OUT (go-ycsb $VERSION + memcached binding)"
