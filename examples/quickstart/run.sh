#!/usr/bin/env bash
# Runs the quickstart end to end in a scratch copy of this directory, so the
# example itself stays clean: validate, plan, apply, plan again (no changes),
# show, and check the written certificates with openssl.
#
#   ./run.sh [path/to/certctl]     (default: certctl on PATH)
set -euo pipefail
certctl=${1:-certctl}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here"/*.hcl "$work"/
cd "$work"

step() { printf '\n$ certctl %s\n' "$*"; }

step validate;                 "$certctl" validate
step plan;                     "$certctl" plan
step apply -auto-approve;      "$certctl" apply -auto-approve
step plan -detailed-exitcode;  "$certctl" plan -detailed-exitcode
step show;                     "$certctl" show

printf '\n$ openssl verify (each certificate against the CA chain)\n'
for crt in out/*.fullchain.crt; do
	name=${crt%.fullchain.crt}
	openssl verify -CAfile "$name.chain.crt" "$name.crt"
done
