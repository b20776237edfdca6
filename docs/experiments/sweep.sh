#!/usr/bin/env bash
# Replays a .betty session once per seed and tabulates the scalars it names with `let`.
#
#   docs/experiments/sweep.sh [-s "0 1 2 3 4"] [-e SED_EXPRESSION]... [-k "name1 name2"] FILE.betty
#
# For each seed, a copy of FILE in a temporary folder gets its `seed N` line replaced (the session's
# data splits, label noise, initialisation and batch order all follow that seed) and every -e
# expression applied with sed (a variant of the session: another learning rate, another loss, ...).
# The copy is replayed headless by the release betty-repl (built first when missing). Every line the
# replay prints as `NAME = NUMBER` (what `let NAME = EXPRESSION` prints for a scalar) is kept, the
# last value of each name; -k keeps only the names given, in that order. Prints a Markdown table, one
# row per seed with the replay's wall time, then the mean, the sample standard deviation, the minimum
# and the maximum of each column. An `expect` that fails in a variant does not stop the sweep (it is
# marked in the last column); an error in the replay does.
# Run it from anywhere; paths are taken relative to the current directory.
set -euo pipefail

seeds="0 1 2 3 4 5 6 7 8 9"
keys=""
expressions=()
while getopts "s:e:k:h" option; do
    case "$option" in
        s) seeds="$OPTARG" ;;
        e) expressions+=(-e "$OPTARG") ;;
        k) keys="$OPTARG" ;;
        *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-s SEEDS] [-e SED_EXPRESSION]... [-k NAMES] FILE.betty" >&2; exit 2; }
file="$1"
[ -f "$file" ] || { echo "no such file: $file" >&2; exit 2; }
grep -q '^seed [0-9][0-9]*[[:space:]]*$' "$file" || { echo "$file has no 'seed N' line to replace" >&2; exit 2; }

root="$(cd "$(dirname "$0")/../.." && pwd)"
repl="$root/.build/release/betty-repl"
if [ ! -x "$repl" ]; then
    (cd "$root" && swift build -c release --product betty-repl >&2)
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for seed in $seeds; do
    copy="$work/seed$seed.betty"
    sed -e "s/^seed [0-9][0-9]*[[:space:]]*$/seed $seed/" ${expressions[@]+"${expressions[@]}"} "$file" > "$copy"
    start=$(date +%s.%N)
    status=0
    "$repl" --headless "$copy" > "$work/seed$seed.out" 2>&1 || status=$?
    end=$(date +%s.%N)
    if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
        echo "seed $seed: the replay stopped with status $status; its last lines:" >&2
        tail -n 15 "$work/seed$seed.out" >&2
        exit 1
    fi
    # One record per seed: seed, seconds, expectations (ok or failed), then name=value pairs.
    awk -v seed="$seed" -v seconds="$(echo "$end - $start" | bc)" -v status="$status" '
        /^[A-Za-z_][A-Za-z0-9_]* = -?[0-9.]+(e[-+]?[0-9]+)?$/ { if (!($1 in value)) order[++n] = $1; value[$1] = $3 }
        END {
            printf "%s\t%.1f\t%s", seed, seconds, status == 0 ? "ok" : "failed"
            for (i = 1; i <= n; i++) printf "\t%s=%s", order[i], value[order[i]]
            printf "\n"
        }' "$work/seed$seed.out" >> "$work/records"
done

awk -F'\t' -v keys="$keys" '
    {
        seed[NR] = $1; seconds[NR] = $2; expectations[NR] = $3
        for (i = 4; i <= NF; i++) {
            split($i, pair, "=")
            if (!(pair[1] in known)) { known[pair[1]] = 1; found[++nfound] = pair[1] }
            value[NR, pair[1]] = pair[2]
        }
    }
    END {
        if (keys != "") ncolumns = split(keys, column, " ")
        else { ncolumns = nfound; for (i = 1; i <= nfound; i++) column[i] = found[i] }
        header = "| seed |"; rule = "| --- |"
        for (c = 1; c <= ncolumns; c++) { header = header " " column[c] " |"; rule = rule " --- |" }
        print header " seconds | expect |"; print rule " --- | --- |"
        for (r = 1; r <= NR; r++) {
            line = "| " seed[r] " |"
            for (c = 1; c <= ncolumns; c++) {
                v = value[r, column[c]]
                line = line " " (v == "" ? "-" : sprintf("%.4f", v)) " |"
            }
            print line " " seconds[r] " | " expectations[r] " |"
        }
        split("mean std min max", statistic, " ")
        for (s = 1; s <= 4; s++) {
            line = "| " statistic[s] " |"
            for (c = 1; c <= ncolumns; c++) {
                n = 0; sum = 0; sq = 0; lo = ""; hi = ""
                for (r = 1; r <= NR; r++) {
                    v = value[r, column[c]]
                    if (v == "") continue
                    v += 0; n++; sum += v; sq += v * v
                    if (lo == "" || v < lo) lo = v
                    if (hi == "" || v > hi) hi = v
                }
                if (n == 0) { line = line " - |"; continue }
                mean = sum / n
                std = n > 1 ? sqrt((sq - n * mean * mean) / (n - 1) > 0 ? (sq - n * mean * mean) / (n - 1) : 0) : 0
                x = statistic[s] == "mean" ? mean : statistic[s] == "std" ? std : statistic[s] == "min" ? lo : hi
                line = line " " sprintf("%.4f", x) " |"
            }
            print line " | |"
        }
    }' "$work/records"
