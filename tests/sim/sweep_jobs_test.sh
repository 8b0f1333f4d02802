#!/usr/bin/env bash
# A sweep run as independent processes gives the same table whichever way it
# is run: one after another (--jobs 1), side by side (--jobs 2), or as a job
# array (sim/slurm/sweep.sbatch once per SLURM_ARRAY_TASK_ID, run here with
# bash as Slurm would run it on a node) followed by --merge. A merge with a
# point missing fails and names it.
# Usage: sweep_jobs_test.sh PULLMAIL_SIM SOURCE_DIR
set -euo pipefail
sim=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sc=$src/sim/scenarios/tiny.toml
spec='policy.spam_threshold_k=1,3,10'
common=(--scenario "$sc" --sweep "$spec" --plots=false --quiet)

"$sim" "${common[@]}" --out "$tmp/seq" --jobs 1 >/dev/null 2>"$tmp/seq.err"
"$sim" "${common[@]}" --out "$tmp/par" --jobs 2 >/dev/null 2>"$tmp/par.err"
for i in 0 1 2; do
  SLURM_ARRAY_TASK_ID=$i PULLMAIL_SIM=$sim \
    bash "$src/sim/slurm/sweep.sbatch" "$sc" "$tmp/array" "$spec" --plots=false \
    2>>"$tmp/array.err"
done
[ ! -e "$tmp/array/sweep.csv" ] || { echo "FAIL: a sweep point wrote the merged table"; exit 1; }
"$sim" "${common[@]}" --out "$tmp/array" --merge >/dev/null

fail=0
for d in par array; do
  if ! cmp "$tmp/seq/sweep.csv" "$tmp/$d/sweep.csv"; then
    echo "FAIL: sweep.csv of '$d' differs from the sequential run"
    diff "$tmp/seq/sweep.csv" "$tmp/$d/sweep.csv" | head -20
    fail=1
  fi
done
rows=$(($(wc -l <"$tmp/seq/sweep.csv") - 1))
[ "$rows" -eq 3 ] || { echo "FAIL: sweep.csv has $rows rows, want 3"; fail=1; }

rm -r "$tmp/array/sweep/policy.spam_threshold_k=10"
if "$sim" "${common[@]}" --out "$tmp/array" --merge >/dev/null 2>"$tmp/merge.err"; then
  echo "FAIL: --merge succeeded with a point missing"; fail=1
elif ! grep -q "spam_threshold_k=10" "$tmp/merge.err"; then
  echo "FAIL: --merge did not name the missing point:"; cat "$tmp/merge.err"; fail=1
fi
if "$sim" "${common[@]}" --out "$tmp/x" --sweep_point 3 2>/dev/null; then
  echo "FAIL: --sweep_point past the last point succeeded"; fail=1
fi
[ $fail -eq 0 ] && echo "sweep as jobs: sequential, --jobs 2 and job array + merge agree"
exit $fail
