#!/bin/sh
# The checker of the namespace tests (evcheck.py) on hand-made logs: a
# correct scenario passes, and each kind of violation is caught.
top=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v python3 >/dev/null 2>&1; then
	echo "SKIP evcheck: no python3"
	exit 0
fi
python3 "$top/tests/netns/evcheck_test.py"
