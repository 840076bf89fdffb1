#!/bin/sh
# Fails if any given file differs from what clang-format would write.
bad=0
for f in "$@"; do
	[ -f "$f" ] || continue
	clang-format --dry-run --Werror "$f" >/dev/null 2>&1 || { echo "not formatted: $f"; bad=1; }
done
exit $bad
