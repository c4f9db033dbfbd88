#!/usr/bin/env bash
# Keep a lent GPU call's working tree under the 64 MiB it carries: the tracked tree (about 85 MB with the kept
# candidates and the result plots) travels whole, and none of those files is needed there.
#
#   bash benchmarks/device_slim.sh on    # untrack benchmarks/candidates/* and benchmarks/results/**/*.png (index only,
#                                        # the files stay) and ignore them in .git/info/exclude
#   bash benchmarks/device_slim.sh off   # back to HEAD's index, exclude lines removed (run before any commit)
set -euo pipefail
cd "$(dirname "$0")/.."
EX="$(git rev-parse --git-dir)/info/exclude"; TAG="# device_slim"
mkdir -p "$(dirname "$EX")"; touch "$EX"
case "${1:-}" in
    on)
        git diff --cached --quiet || { echo "device_slim: the index holds staged changes; commit or unstage them first" >&2; exit 2; }
        git ls-files -z 'benchmarks/candidates/*' 'benchmarks/results/*.png' | xargs -0 -r git rm -q --cached --
        grep -q "$TAG" "$EX" || printf '%s\n/benchmarks/candidates/\n/benchmarks/results/**/*.png\n' "$TAG" >> "$EX"
        echo "device_slim on: $( (git ls-files -z; git ls-files -z --others --exclude-standard) | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1) bytes travel (plus carried paths)";;
    off)
        git reset -q
        grep -v -e "$TAG" -e '^/benchmarks/candidates/$' -e '^/benchmarks/results/\*\*/\*\.png$' "$EX" > "$EX.tmp" || true
        mv "$EX.tmp" "$EX"
        echo "device_slim off: index back to HEAD";;
    *) echo "usage: bash benchmarks/device_slim.sh on|off" >&2; exit 2;;
esac
