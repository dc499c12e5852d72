#!/usr/bin/env bash
# Runs this example end to end against a local pebble, in a scratch copy of
# this directory: starts pebble-challtestsrv (DNS: every name is 127.0.0.1)
# and pebble (real HTTP-01 validation), then validate, plan, apply, plan
# again (no changes), show, renew www (the order replaces the current
# certificate), remove api (revoked at the CA), and openssl verify.
#
#   ./run.sh [path/to/certctl]     (default: certctl on PATH)
#
# pebble and pebble-challtestsrv come from GOBIN or GOPATH/bin, where
# `make tools` (.ci/tools) installs them. Ports: PEBBLE_PORT (14000),
# PEBBLE_MGMT_PORT (15000), HTTP01_PORT (5002), DNS_PORT (8053).
set -euo pipefail
certctl=${1:-certctl}
here=$(cd "$(dirname "$0")" && pwd)
PEBBLE_VERSION=v2.10.3
pebble_port=${PEBBLE_PORT:-14000}
mgmt_port=${PEBBLE_MGMT_PORT:-15000}
http_port=${HTTP01_PORT:-5002}
dns_port=${DNS_PORT:-8053}

gobin=$(go env GOBIN); [ -n "$gobin" ] || gobin=$(go env GOPATH)/bin
for bin in pebble pebble-challtestsrv; do
	[ -x "$gobin/$bin" ] || { echo "run.sh: $gobin/$bin not found; run 'make tools' first" >&2; exit 1; }
done
pebble_mod=$(cd /tmp && go mod download -json "github.com/letsencrypt/pebble/v2@$PEBBLE_VERSION" |
	sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
certs=$pebble_mod/test/certs

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
cp "$here"/*.hcl "$work"/
cp "$certs/pebble.minica.pem" "$work"/
cd "$work"

cat > pebble-config.json <<JSON
{"pebble": {
  "listenAddress": "127.0.0.1:$pebble_port",
  "managementListenAddress": "127.0.0.1:$mgmt_port",
  "certificate": "$certs/localhost/cert.pem",
  "privateKey": "$certs/localhost/key.pem",
  "httpPort": $http_port,
  "tlsPort": 5001,
  "ocspResponderURL": "",
  "keyAlgorithm": "ecdsa",
  "profiles": {"default": {"description": "90 days", "validityPeriod": 7776000}}
}}
JSON
"$gobin/pebble-challtestsrv" -dnsserver "127.0.0.1:$dns_port" -management 127.0.0.1:0 \
	-defaultIPv4 127.0.0.1 -defaultIPv6 "" -http01 "" -https01 "" -tlsalpn01 "" -doh "" >challtestsrv.log 2>&1 &
pids+=($!)
PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 PEBBLE_WFE_NONCEREJECT=0 \
	"$gobin/pebble" -config pebble-config.json -dnsserver "127.0.0.1:$dns_port" >pebble.log 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$pebble_port") 2>/dev/null && break
	sleep 0.1
done
(exec 3<>"/dev/tcp/127.0.0.1/$pebble_port") 2>/dev/null || { cat pebble.log >&2; exit 1; }

export CERTCTL_VAR_pebble_dir="https://127.0.0.1:$pebble_port/dir"
export CERTCTL_VAR_http_port=$http_port
step() { printf '\n$ certctl %s\n' "$*"; "$certctl" "$@"; }

step validate
step plan
step apply -auto-approve
step plan -detailed-exitcode
step show
step renew www
grep -q "is a replacement of" pebble.log && echo "(pebble: the renewal order named the certificate it replaces)"

printf '\n# Delete the api block (on_remove = "revoke"): apply revokes it at the CA.\n'
awk '/^certificate "api"/{skip=1} !skip{print} skip&&/^}/{skip=0}' certificates.hcl >c.tmp && mv c.tmp certificates.hcl
step plan
step apply -auto-approve
step show

printf '\n$ openssl verify (the leaf against its chain)\n'
openssl verify -partial_chain -CAfile out/www.chain.crt out/www.crt
