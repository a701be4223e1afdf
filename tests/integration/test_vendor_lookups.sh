#!/usr/bin/env bash
# Integration test of vendor codes in lookups (issue 12): what providers document a code to
# mean, beside IANA's answer, on every lookup surface. `smtpstatus --offline` (the embedded
# image), then a real smtpstatusd serving a registry directory (its published image carries no
# vendor rows, so every reader falls back on the embedded image's), asked through the shared
# image, through the socket (--socket) and over HTTP with curl: each answer equals the
# --offline one byte for byte. Expected rows are counted in data/vendors.csv with Python's csv
# module, not written down here. ctest sets SMTPSTATUSD, BUILD_DIR and PROJECT_DATA_DIR.
set -uo pipefail
: "${SMTPSTATUSD:?} ${BUILD_DIR:?} ${PROJECT_DATA_DIR:?}"
S=$BUILD_DIR/smtpstatus
PY=/usr/bin/python3
CSV=$PROJECT_DATA_DIR/vendors.csv

tmp=$(mktemp -d)
daemon_pid=''
cleanup() {
  [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
mkdir "$tmp/empty"
export SMTPSTATUS_RUNDIR=$tmp/empty
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# rows CODE: how many rows data/vendors.csv has for CODE; providers CODE: their providers.
rows() { $PY -c 'import csv,sys; print(sum(r["Code"]==sys.argv[2] for r in csv.DictReader(open(sys.argv[1]))))' "$CSV" "$1"; }
providers() { $PY -c 'import csv,sys; print(",".join(sorted({r["Provider"] for r in csv.DictReader(open(sys.argv[1])) if r["Code"]==sys.argv[2]})))' "$CSV" "$1"; }

# lookup NAME WANT_RC EXPR ARGS...: runs `smtpstatus ARGS...` into $tmp/out; passes when it
# exits WANT_RC and the Python expression EXPR holds for d, the JSON object it printed.
lookup() {
  local name=$1 want=$2 expr=$3
  shift 3
  "$S" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  if [ "$rc" -ne "$want" ]; then
    bad "$name: exit $rc, want $want"; sed 's/^/  | /' "$tmp/err" | head -n 5; return
  fi
  if $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' \
      "$tmp/out" "$expr" 2>"$tmp/pyerr"; then
    ok "$name"
  else
    bad "$name: not ($expr)"; head -c 800 "$tmp/out" | sed 's/^/  | /'; sed 's/^/  | /' "$tmp/pyerr"
  fi
}

n708=$(rows 5.7.708) n110=$(rows 5.1.10) n428=$(rows 4.7.28) ntss=$(rows TSS04)
p708=$(providers 5.7.708) ptss=$(providers TSS04)
if [ "$n708" -lt 1 ] || [ "$n110" -lt 1 ] || [ "$n428" -lt 1 ] || [ "$ntss" -lt 1 ]; then
  bad "data/vendors.csv lacks one of 5.7.708, 5.1.10, 4.7.28, TSS04"
fi
provs='",".join(sorted({v["provider"] for v in d["vendors"]}))'
fields='all(set(v)=={"provider","code","meaning","reason","source"} and v["meaning"] and v["source"].startswith("http") for v in d["vendors"])'

# ---- --offline ------------------------------------------------------------------------------
lookup "offline 5.7.708: not IANA's (exit 1), Microsoft's" 1 \
  "d['registered'] is False and len(d['vendors'])==$n708 and $provs=='$p708' and 'Microsoft 365' in '$p708' and all(v['code']=='5.7.708' for v in d['vendors']) and $fields" \
  --offline --json lookup 5.7.708
lookup "offline 5.1.10: IANA's null MX, with Microsoft's use beside it" 0 \
  "d['registered'] is True and 'null MX' in d['title'] and len(d['vendors'])==$n110 and any(v['provider']=='Microsoft 365' and v['reason']=='bad-mailbox' for v in d['vendors'])" \
  --offline --json lookup 5.1.10
lookup "offline 4.7.28: Gmail's rate limit" 0 \
  "len(d['vendors'])==$n428 and any(v['provider']=='Gmail' and v['reason']=='rate-limit' for v in d['vendors'])" \
  --offline --json lookup 4.7.28
lookup "offline 4.7.708: Microsoft documents class 5 only" 1 \
  "d['registered'] is False and d['vendors']==[]" --offline --json lookup 4.7.708
lookup "offline X.7.708: a class-free lookup gets every class's rows" 1 \
  "len(d['vendors'])==$n708" --offline --json lookup X.7.708
lookup "offline TSS04: a provider's token" 0 \
  "d['code']=='TSS04' and d['registered'] is False and d['class'] is None and len(d['vendors'])==$ntss and $provs=='$ptss' and $fields" \
  --offline --json lookup TSS04
lookup "offline tss04: any letter case" 0 "d['code']=='TSS04' and len(d['vendors'])==$ntss" \
  --offline --json lookup tss04
lookup "offline 5.1.99: no vendors" 1 "d['vendors']==[] and d['registered'] is False" \
  --offline --json lookup 5.1.99
lookup "offline TSS05: not a code and no provider's token" 1 "'error' in d" \
  --offline --json lookup TSS05

lookup "offline classify of a 5.7.708 reply: its entry carries Microsoft's row" 0 \
  "d['enhanced']=='5.7.708' and len(d['entry']['vendors'])==$n708 and any(v['provider']=='Microsoft 365' for v in d['entry']['vendors'])" \
  --offline --json classify "550 5.7.708 Service unavailable. Access denied, traffic not accepted from this IP."

"$S" --offline lookup 5.7.708 >"$tmp/human" 2>&1
if grep -q '^    Vendors:$' "$tmp/human" && grep -q '^      Microsoft 365 5.7.708 (policy): ' "$tmp/human" &&
   grep -q '^        Source: https://' "$tmp/human"; then
  ok "human lookup 5.7.708 has a Vendors: block"
else
  bad "human lookup 5.7.708 has no Vendors: block"; sed 's/^/  | /' "$tmp/human"
fi
"$S" --offline lookup TSS04 >"$tmp/human" 2>&1
if [ "$(grep -c '^      [A-Za-z].* TSS04 (policy): ' "$tmp/human")" -eq "$ntss" ]; then
  ok "human lookup TSS04 lists every provider's row"
else
  bad "human lookup TSS04"; sed 's/^/  | /' "$tmp/human"
fi
"$S" --offline lookup 5.1.99 >"$tmp/human" 2>&1
if grep -q 'Vendors:' "$tmp/human"; then bad "5.1.99 has a Vendors: block"; else ok "5.1.99 has no Vendors: block"; fi

# ---- the daemon: shared image, socket, HTTP ---------------------------------------------------
# A registry directory, so the daemon publishes its own image (with no vendor rows).
mkdir -p "$tmp/registry"
cp "$PROJECT_DATA_DIR"/smtp-enhanced-status-codes-*.csv "$tmp/registry/"
if ! "$SMTPSTATUSD" --rundir "$tmp/run" --statedir "$tmp/state" --log-target stderr \
    --registry "$tmp/registry" --http 127.0.0.1:0 2>"$tmp/daemon.log" </dev/null; then
  bad "the daemon did not start"; sed 's/^/  | /' "$tmp/daemon.log"
  echo "$pass passed, $fail failed"; exit 1
fi
daemon_pid=$(cat "$tmp/run/smtpstatusd.lock")
port=$(sed -n 's/.*http: listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/daemon.log" | head -n 1)

for code in 5.7.708 5.1.10 4.7.28 TSS04 tss04 X.7.708 5.1.1; do
  "$S" --offline --json lookup "$code" >"$tmp/offline" 2>/dev/null
  "$S" --rundir "$tmp/run" --json lookup "$code" >"$tmp/daemon" 2>"$tmp/err"
  if cmp -s "$tmp/offline" "$tmp/daemon"; then
    ok "shared lookup $code equals --offline"
  else
    bad "shared lookup $code differs from --offline"
    diff <(head -c 600 "$tmp/offline") <(head -c 600 "$tmp/daemon") | sed 's/^/  | /' | head
    sed 's/^/  | /' "$tmp/err" | head -n 3
  fi
  # The socket's Part carries no reference, so only what this test is about is compared.
  "$S" --rundir "$tmp/run" --socket --json lookup "$code" >"$tmp/daemon" 2>"$tmp/err"
  if $PY -c 'import json,sys; a,b=(json.load(open(f)) for f in sys.argv[1:3]); k=("code","registered","title","vendors"); sys.exit(0 if [a[x] for x in k]==[b[x] for x in k] and a["vendors"] is not None else 1)' \
      "$tmp/offline" "$tmp/daemon"; then
    ok "socket lookup $code: code, registered, title and vendors equal --offline"
  else
    bad "socket lookup $code differs from --offline"
    diff <(head -c 600 "$tmp/offline") <(head -c 600 "$tmp/daemon") | sed 's/^/  | /' | head
    sed 's/^/  | /' "$tmp/err" | head -n 3
  fi
  "$S" --offline lookup "$code" >"$tmp/offline" 2>/dev/null
  "$S" --rundir "$tmp/run" --socket lookup "$code" >"$tmp/daemon" 2>/dev/null
  if cmp -s "$tmp/offline" "$tmp/daemon"; then
    ok "socket lookup $code for people equals --offline"
  else
    bad "socket lookup $code for people differs"; diff "$tmp/offline" "$tmp/daemon" | head | sed 's/^/  | /'
  fi
done

for code in 5.7.708 5.1.10 4.7.28 TSS04; do
  "$S" --offline --json lookup "$code" >"$tmp/offline" 2>/dev/null
  status=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/v1/codes/$code")
  if [ "$status" = 200 ] && cmp -s "$tmp/offline" "$tmp/body"; then
    ok "GET /v1/codes/$code equals --offline"
  else
    bad "GET /v1/codes/$code: status $status, or it differs from --offline"
    diff <(head -c 600 "$tmp/offline") <(head -c 600 "$tmp/body") | sed 's/^/  | /' | head
  fi
done
status=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 10 --data-binary "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup" "http://127.0.0.1:$port/v1/classify")
if [ "$status" = 200 ] && $PY -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d["entry"]["vendors"])==int(sys.argv[2]) and d["entry"]["registered"] else 1)' "$tmp/body" "$n110"; then
  ok "POST /v1/classify of a 5.1.10 reply: the entry carries the $n110 vendor rows"
else bad "POST /v1/classify 5.1.10: status $status"; head -c 600 "$tmp/body" | sed 's/^/  | /'; fi
status=$(curl -s -o "$tmp/body" -w '%{http_code}' --max-time 10 "http://127.0.0.1:$port/v1/codes/TSS05")
if [ "$status" = 400 ]; then ok "GET /v1/codes/TSS05 is 400"; else bad "GET /v1/codes/TSS05: status $status"; fi

kill -TERM "$daemon_pid" 2>/dev/null
daemon_pid=''
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
