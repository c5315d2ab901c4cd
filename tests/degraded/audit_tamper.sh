#!/usr/bin/env bash
# The audit log cannot be rewritten unnoticed (issue 14): a run with the facility's key, then
# its log cut, emptied, appended to with a forged record (SHA-256 rechained), and edited and
# rechained; `twin audit verify` must report every one (exit 1), and the intact log verifies.
# usage: audit_tamper.sh TWIN CONFIG SCRATCH
set -uo pipefail
twin=$1 config=$2 dir=$3
rm -rf "$dir" && mkdir -p "$dir"
head -c 32 /dev/urandom > "$dir/key" && head -c 32 /dev/urandom > "$dir/other-key"
TWIN_AUDIT_KEY_FILE="$dir/key" "$twin" run "$config" --run-dir "$dir/run" --cycles 6 > "$dir/log" 2>&1 || { tail "$dir/log"; exit 1; }
log="$dir/run/audit.jsonl"
verify() {  # expect STATUS PATTERN ARGS...
  local want=$1 pattern=$2; shift 2
  out=$("$twin" audit verify "$@" 2>&1); status=$?
  echo "  [$status] $out"
  [ "$status" -eq "$want" ] && echo "$out" | grep -q -- "$pattern" || { echo "expected exit $want and '$pattern'"; exit 1; }
}
echo "intact:";            verify 0 "keyed (HMAC) chain intact, chain head matches" "$log" --key "$dir/key"
echo "without the key:";   verify 1 "verify it with the facility key" "$log"
echo "another key:";       verify 1 "hmac mismatch" "$log" --key "$dir/other-key"
cp "$log" "$dir/intact.jsonl"
head -n 5 "$dir/intact.jsonl" > "$log"
echo "last record cut:";   verify 1 "recorded 6" "$log" --key "$dir/key"
: > "$log"
echo "emptied:";           verify 1 "recorded 6" "$log" --key "$dir/key"
# A forged record appended and a record edited, each rechained with plain SHA-256 (as anyone can).
# The lines are edited as text: re-serialising them from Python would print some doubles with
# other digits than the twin's JSON library (both round-trip; Grisu2 is not always shortest), and
# the forgery would then fail its own hash instead of the check this test is about.
python3 - "$dir/intact.jsonl" "$dir/forged.jsonl" "$dir/edited.jsonl" <<'PY'
import hashlib, re, sys
lines = open(sys.argv[1]).read().splitlines()
def rechain(ls):
    prev = "0" * 64
    out = []
    for i, line in enumerate(ls):
        line = line.replace('"chain":"hmac-sha256",', "", 1)
        line = re.sub(r'"prev":"[0-9a-f]{64}"', '"prev":"%s"' % prev, line, count=1)
        line = re.sub(r'"seq":[0-9]+', '"seq":%d' % i, line, count=1)
        field = re.search(r'"hash":"[0-9a-f]{64}",', line)
        bare = line[:field.start()] + line[field.end():]
        prev = hashlib.sha256(bare.encode()).hexdigest()
        out.append(line[:field.start()] + '"hash":"%s",' % prev + line[field.end():])
    return out
forged = lines + [re.sub(r'"cycle":[0-9]+', '"cycle":99', lines[-1], count=1)]
open(sys.argv[2], "w").write("\n".join(rechain(forged)) + "\n")
edited = list(lines)
edited[2] = re.sub(r'"mode":"[a-z_]+"', '"mode":"edited"', edited[2], count=1)
open(sys.argv[3], "w").write("\n".join(rechain(edited)) + "\n")
PY
cp "$dir/forged.jsonl" "$log"
echo "forged append, rechained:"; verify 1 "not keyed" "$log" --key "$dir/key"
echo "  ...and checked without the key against the summary:"; verify 1 "recorded 6" "$log"
cp "$dir/edited.jsonl" "$log"
echo "edited and rechained:";   verify 1 "not keyed" "$log" --key "$dir/key"

# The chain head anchored in the next run: a second run beside the first puts the first one's
# length and head into its first (keyed) record. Cutting the first log and rewriting its
# summary.json to match (both unkeyed facts) passes the summary check, not the anchor.
cp "$dir/intact.jsonl" "$log"
TWIN_AUDIT_KEY_FILE="$dir/key" "$twin" run "$config" --run-dir "$dir/next" --cycles 3 > "$dir/next.log" 2>&1 || { tail "$dir/next.log"; exit 1; }
echo "next run anchors the first:"; verify 0 "its first record anchors the previous run $dir/run (6 records" "$dir/next/audit.jsonl" --key "$dir/key"
echo "first run, anchored in the next:"; verify 0 "anchored in $dir/next/audit.jsonl" "$log" --key "$dir/key" --anchored-in "$dir/next/audit.jsonl"
head -n 4 "$dir/intact.jsonl" > "$log"
python3 - "$log" "$dir/run/summary.json" <<'PY'
import json, sys
last = json.loads(open(sys.argv[1]).read().splitlines()[-1])
s = json.load(open(sys.argv[2]))
s["audit"]["records"], s["audit"]["head"] = last["seq"] + 1, last["hash"]
json.dump(s, open(sys.argv[2], "w"))
PY
echo "cut, summary rewritten to match:"; verify 0 "chain head matches" "$log" --key "$dir/key"
echo "  ...but not the anchor in the next run:"; verify 1 "anchors 6 ending in" "$log" --key "$dir/key" --anchored-in "$dir/next/audit.jsonl"
echo "all tampering detected"
