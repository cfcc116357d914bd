#!/usr/bin/env bash
# rsp-cat: 100 MB of random bytes through a pool (echo PE) and back, unchanged.
source "$(dirname "$0")/lib.sh" "$1"
size_mb=${RSP_BULK_MB:-100}

start_registrar
start_pe BulkPool
check "PE registers" wait_pool_size BulkPool 1
head -c "${size_mb}M" /dev/urandom >"$TMP/in"
t0=$(date +%s%N)
"$CAT" BulkPool --raw -w 600s <"$TMP/in" >"$TMP/out" 2>"$TMP/err"
rc=$?
t1=$(date +%s%N)
check "rsp-cat exits 0 (got $rc; $(head -c 300 "$TMP/err"))" test "$rc" == 0
check "$size_mb MB come back unchanged" cmp -s "$TMP/in" "$TMP/out"
ms=$(((t1 - t0) / 1000000))
echo "rsp-cat: $size_mb MB echoed in $ms ms ($((size_mb * 1000 / (ms + 1))) MB/s)" >&2
# The same bytes through a pipe on both sides (not a regular file). The PE must still be (or be
# again) registered: under --fast a PE echoing at full speed on a loaded host can miss a
# keep-alive and re-register later; say so rather than fail with "pool not found".
check "PE registered after the bulk transfer" wait_pool_size BulkPool 1
head -c 10M "$TMP/in" | "$CAT" BulkPool --raw -w 300s | cmp -s - <(head -c 10M "$TMP/in")
st=("${PIPESTATUS[@]}")
check "10 MB through pipes on both sides unchanged (${st[*]})" test "${st[1]}${st[2]}" == 00
finish
