#!/bin/sh
# tidy.sh - clang-tidy (config: .clang-tidy) over the given files; fails on
# any finding that tests/lint/clang-tidy.baseline does not list.
# Usage: sh tests/lint/tidy.sh FILE... [-- COMPILER-FLAGS]
TIDY=${CLANG_TIDY:-clang-tidy}
BASELINE=$(dirname "$0")/clang-tidy.baseline
out=$(mktemp /tmp/tidy.XXXXXX) || exit 1
trap 'rm -f "$out"' EXIT INT TERM
"$TIDY" --quiet "$@" >"$out" 2>&1
status=$?
root=$(pwd)/
new=0
known=0
# findings: "/abs/path:line:col: warning|error: message [check,...]"
grep -E '^[^ ]+:[0-9]+:[0-9]+: (warning|error): ' "$out" | sort -u >"$out.f"
while IFS= read -r line; do
    file=${line%%:*}
    file=${file#"$root"}
    check=$(printf '%s\n' "$line" | sed -n 's/.*\[\([^],]*\).*\]$/\1/p')
    msg=$(printf '%s\n' "$line" | sed 's/^[^ ]*: \(warning\|error\): //; s/ \[[^]]*\]$//')
    matched=0
    while IFS='|' read -r bf bc bm; do
        case $bf in '#'*|'') continue ;; esac
        if [ "$bf" = "$file" ] && [ "$bc" = "$check" ]; then
            case $msg in *"$bm"*) matched=1 ;; esac
        fi
    done <"$BASELINE"
    if [ $matched = 1 ]; then
        known=$((known + 1))
    else
        new=$((new + 1))
        printf '%s\n' "$line"
        # the analyzer's path, for the reader
        grep -F -A30 "$line" "$out" | sed -n '2,30{/: \(warning\|error\): /q;p}' | grep 'note:' | tail -8
    fi
done <"$out.f"
rm -f "$out.f"
echo "clang-tidy: $new findings, $known known false positives (tests/lint/clang-tidy.baseline)"
if [ "$new" -ne 0 ]; then
    exit 1
fi
# clang-tidy itself failed (not a finding): a compile error, say
if [ $status -ne 0 ] && ! grep -q 'warnings\? generated' "$out"; then
    cat "$out"; exit 1
fi
exit 0
