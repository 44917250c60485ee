#!/bin/sh
# make bench: run vmsweep (the plain build) against the simulator and
# print how close each scenario comes to the latency bound, what it costs
# in CPU and memory, and how many connections it opens.  The scenarios,
# the bound and the columns are described in docs/performance.md.
#
#   tests/bench/run.sh [--only a,b,c,d,j,v] [--scale F] [--repeat N]
#                      [--json FILE]
#
# Needs python3 (standard library only) and the build: make all certs.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
if [ ! -e "$root/build/certs/server.pem" ]; then
	make -C "$root" certs >/dev/null
fi
exec python3 "$root/tests/bench/bench.py" --root "$root" "$@"
