#!/bin/sh
# Builds busybox:stack, the base image of every example, from Debian's static busybox.
# STACK names the command to run (default: stack; from a checkout: "node dist/cli/stack.js").
set -eu
here=$(cd "$(dirname "$0")" && pwd)
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "no static busybox at $busybox: apt-get install busybox-static" >&2; exit 1; }
cp "$busybox" "$here/busybox"
trap 'rm -f "$here/busybox"' EXIT
${STACK:-stack} image build -q -t busybox:stack "$here"
