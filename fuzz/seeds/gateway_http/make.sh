#!/usr/bin/env bash
# Rebuilds this folder's seeds for the `gateway_http` target (its header says the format: per
# request a route byte, a flags byte, path parameters, a newline, the body; 0xff between
# requests). `bash fuzz/seeds/gateway_http/make.sh`
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# request ROUTE FLAGS PARAMS BODY: one request (routes and flags as in gateway_http.rs).
request() { printf "\\x$(printf %02x "$1")\\x$(printf %02x "$2")%s\n%s" "$3" "$4"; }
next() { printf '\xff'; }

# Register a VoIP token, ring its user, post the device's receipt (signed), follow, answer.
{
  request 0 0 'acme/a1b2c3d4e5f60718293a4b5c6d7e8f90' '{"user":"alice","kind":"voip","attrs":{"os_version":"26.4","model":"iPhone17,1"}}'; next
  request 3 0 'acme' '{"call_id":"call-1","caller":"Bob","callee":"alice","window_secs":30}'; next
  request 2 0 'acme/a1b2c3d4e5f60718293a4b5c6d7e8f90/limit=5' ''; next
  request 8 4 '' '{"push_id":"@p","call_id":"@c","device_received_at":1795514460298.5,"app_state":"background","network":"wifi"}'; next
  request 5 0 '@c' ''; next
  request 7 0 '@c' ''; next
  request 6 0 '@c' ''
} >ring.bin

# Bodies and paths at the edges: two JSON values, a string where a number goes, a wrong
# content type, a missing bearer, a path byte that is not UTF-8, a method no route takes.
{
  request 3 0 'acme' '{"call_id":"a","caller":"Bob","callee":"alice"}{"call_id":"b","caller":"Bob","callee":"alice"}'; next
  request 3 0 'acme' '{"call_id":"a","caller":"Bob","callee":"alice","window_secs":"30"}'; next
  request 0 2 'acme/a1b2' '{"user":"alice"}'; next
  request 1 1 'acme/a1b2' ''; next
  request 4 8 'acme/%ff' ''; next
  request 11 64 'v1/receipts' ''; next
  request 8 0 '' '{"push_id":"p","receipt_token":"v1.eA.eA","device_received_at":"2026-11-24T10:01:00.298Z"}'; next
  request 9 0 '' ''; next
  request 10 0 '' ''
} >edges.bin
ls -l ./*.bin
