#!/usr/bin/env bash
# make bench-tls: the full switch served as a process of its own (authorization, the journal
# fsynced before each reply, the software HSM), with one plain link and one TLS link (mutual
# TLS, ECDSA P-256 certificates from `cardswitch tls certs`), both iso87ascii binary2. bench drives
# 0200 purchases at CONNS x INFLIGHT closed loop at each link in turn, ROUNDS times (plain, TLS,
# plain, TLS: the same period, the same machine load), with the server's CPU time per message
# (--server-pid). Reports go to OUT (default bench-tls/): plain-N.json, tls-N.json.
set -eu
BIN=${BIN:-./bin/cardswitch}
CONNS=${CONNS:-64}
INFLIGHT=${INFLIGHT:-16}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
ROUNDS=${ROUNDS:-2}
PORT=${PORT:-28583}  # plain; PORT+1 TLS, PORT+2 admin
OUT=${OUT:-bench-tls}
DIR=$(mktemp -d /tmp/cardswitch-bench-tls.XXXXXX)
PID=
cleanup() {
	if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
mkdir -p "$OUT"
"$BIN" tls certs --dir "$DIR/tls" >/dev/null
"$BIN" config bench-issuer >"$DIR/issuer.yaml"
cat >"$DIR/cardswitch.yaml" <<EOF
data_dir: $DIR/data
log: {level: warn, format: json}
admin: {listen: 127.0.0.1:$((PORT + 2))}
links:
  - {name: plain, listen: 127.0.0.1:$PORT, dialect: iso87ascii, framing: binary2, max_in_flight: 1024, max_conns_per_ip: 10000}
  - name: tls
    listen: 127.0.0.1:$((PORT + 1))
    dialect: iso87ascii
    framing: binary2
    max_in_flight: 1024
    max_conns_per_ip: 10000
    tls: {cert: $DIR/tls/server.pem, key: $DIR/tls/server.key, ca: $DIR/tls/ca.pem}
routes:
  no_route_code: "15"
  rules:
    - {name: network-management, mti_classes: ["8"], action: local}
    - {name: on-us, pan_prefixes: ["4", "5", "6"], action: local}
issuer: {data: $DIR/issuer.yaml}
EOF
for p in $PORT $((PORT + 1)) $((PORT + 2)); do
	if (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then echo "port $p is in use: set PORT to a free base (3 ports)" >&2; exit 1; fi
done
"$BIN" serve --config "$DIR/cardswitch.yaml" 2>"$DIR/serve.log" &
PID=$!
for _ in $(seq 100); do
	if (exec 3<>/dev/tcp/127.0.0.1/$((PORT + 1))) 2>/dev/null; then break; fi
	sleep 0.1
done
kill -0 "$PID" || { cat "$DIR/serve.log"; exit 1; }
kill -0 "$PID" 2>/dev/null || { cat "$DIR/serve.log" >&2; exit 1; }
echo "switch pid $PID on a machine of $(nproc) CPUs (load average now: $(cut -d' ' -f1-3 /proc/loadavg)); shared machines vary: compare rounds, not runs of other days"
run() { # name, extra flags
	name=$1; shift
	echo "== $name"
	"$BIN" bench --config "$DIR/cardswitch.yaml" --compare-traffic --server-pid "$PID" --conns "$CONNS" --inflight "$INFLIGHT" \
		--duration "$DURATION" --warmup "$WARMUP" --json "$OUT/$name.json" "$@"
}
rc=0
for r in $(seq "$ROUNDS"); do
	run "plain-$r" --addr "127.0.0.1:$PORT" || rc=1
	run "tls-$r" --addr "127.0.0.1:$((PORT + 1))" --tls --cert "$DIR/tls/client.pem" --key "$DIR/tls/client.key" --ca "$DIR/tls/ca.pem" || rc=1
done
exit $rc
