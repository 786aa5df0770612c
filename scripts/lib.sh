# Helpers that scripts/bench.sh and scripts/memkv-vs-memcached.sh source.

# free_port: a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# wait_port PORT: wait up to 10 s until something accepts on 127.0.0.1:PORT.
wait_port() { for _ in $(seq 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 not ready" >&2; return 1; }
# load1: the 1-minute load average.
load1() { local a; read -r a _ < /proc/loadavg; echo "$a"; }
