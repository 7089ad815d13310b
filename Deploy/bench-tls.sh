#!/usr/bin/env bash
# The cost of TLS on the Echo benchmark (issue 20, item 7). Two release servers on one scratch
# database, identical but for TLS: "plain" speaks plain frames, "tls" TLS (a P-256 certificate
# made here with openssl, TLS 1.3, ALPN karokar/1). Runs of `karokar-bench call` alternate between
# them, ROUNDS each, on connections opened before the measured part (the handshakes are not in
# it); the report is each one's median server CPU per call, calls/s and p50/p99 latency, and the
# TLS server's extra CPU per call in percent.
#   bash Deploy/bench-tls.sh                  # 5 rounds of 10 s, 64 in flight on 1 connection
#   ROUNDS=9 DURATION=20s CONCURRENCY=128 CONNECTIONS=4 BENCH_PIN=1 bash Deploy/bench-tls.sh
#   BENCH_BIN=.build/release bash Deploy/bench-tls.sh   # binaries already built
# Settings and the shared steps: Deploy/bench/echo-servers.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source Deploy/bench/echo-servers.sh

# A throwaway PKI: a CA and a server certificate for localhost and 127.0.0.1.
pki="$bench_dir/pki"
mkdir -p "$pki"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/ca.key" -out "$pki/ca.pem" -days 2 \
  -subj "/CN=karokar bench CA" -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$pki/server.key" -out "$pki/server.csr" -subj "/CN=localhost" 2>/dev/null
printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$pki/server.ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -out "$pki/server.pem" -days 2 \
  -extfile "$pki/server.ext" 2>/dev/null

port=$((20000 + RANDOM % 10000))
echo_server plain "$bin" "$port"
echo_server tls "$bin" $((port + 1)) --set tls-certificate-file="$pki/server.pem" --set tls-key-file="$pki/server.key"
echo_client_args[tls]="--tls-ca $pki/ca.pem"
echo_wait
echo_rounds
echo_summary plain
