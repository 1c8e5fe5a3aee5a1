// Sends the cases of a conformance job through @parse/node-apn and prints what it reported.
//
// Usage: node node_apn_client.js JOB.json   (with NODE_PATH naming setup.sh's node_modules)
//
// The job (written by crates/emulator/tests/conformance.rs):
//   {host, port, ca_file, key_file, key_id, team_id,
//    cases: [{name, token, topic, push_type, priority, expiration, ttl, collapse_id, apns_id,
//             payload | payload_size}]}
// Output: one JSON object per case, in order: {name, status, reason, timestamp, apns_id, error}
//
// Only node-apn's public API is used: Provider with its documented `address`, `port` and `ca`
// options (no patching needed), Notification, Provider#send.

'use strict';

const fs = require('fs');
const apn = require('@parse/node-apn');

function payloadOf(c) {
  if (c.payload != null) return c.payload;
  // A body of exactly payload_size bytes as node-apn serialises it (JSON.stringify of the
  // payload; an empty `aps` is left out): pad one string field.
  const empty = Buffer.byteLength(JSON.stringify({ pad: '' }));
  return { pad: 'x'.repeat(c.payload_size - empty) };
}

function notificationOf(c) {
  const note = new apn.Notification();
  note.topic = c.topic;
  if (c.push_type != null) note.pushType = c.push_type;
  // node-apn sends priority 10 unless told otherwise; `null` keeps its default.
  if (c.priority != null) note.priority = c.priority;
  if (c.expiration != null) note.expiry = c.expiration;
  // A relative TTL the way a JavaScript caller computes it from Date.now(): a fractional TTL
  // makes a fractional `apns-expiration`, which node-apn sends as is.
  if (c.ttl != null) note.expiry = Math.floor(Date.now() / 1000) + c.ttl;
  if (c.collapse_id != null) note.collapseId = c.collapse_id;
  if (c.apns_id != null) note.id = c.apns_id;
  note.payload = payloadOf(c);
  return note;
}

// What node-apn reports for one recipient: `sent` entries carry the response's apns-id; `failed`
// entries carry `status` and the parsed body in `response` (reason, timestamp), except for 403
// ExpiredProviderToken, which node-apn retries with a fresh token and, when the retries run out,
// reports as `error` (a VError whose message is the reason) with no `response`, and 500
// InternalServerError, which node-apn reports (after its retries) as its own message
// "Error 500, stream ended unexpectedly", emitted only for that status and reason
// (lib/client.js): it is mapped back to the reason it stands for.
const NODE_APN_500 = 'Error 500, stream ended unexpectedly';

function report(name, result) {
  if (result.sent.length === 1) {
    const sent = result.sent[0];
    return { name, status: 200, reason: null, timestamp: null, apns_id: sent['apns-id'] };
  }
  const failed = result.failed[0];
  const response = failed.response || {};
  const error = failed.error ? String(failed.error.message || failed.error) : null;
  if (error === NODE_APN_500 && Number(failed.status) === 500) {
    response.reason = 'InternalServerError';
  }
  return {
    name,
    status: failed.status != null ? Number(failed.status) : null,
    reason: response.reason != null ? response.reason : failed.status != null ? error : null,
    timestamp: response.timestamp != null ? response.timestamp : null,
    apns_id: failed['apns-id'] != null ? failed['apns-id'] : null,
    error,
  };
}

async function main() {
  if (process.argv.length !== 3) {
    console.error('usage: node node_apn_client.js JOB.json');
    process.exit(2);
  }
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const provider = new apn.Provider({
    token: { key: job.key_file, keyId: job.key_id, teamId: job.team_id },
    production: false,
    address: job.host,
    port: job.port,
    ca: job.ca_file,
  });
  try {
    // Sequential on purpose: the per-token rate cases depend on order.
    for (const c of job.cases) {
      const result = await provider.send(notificationOf(c), c.token);
      console.log(JSON.stringify(report(c.name, result)));
    }
  } finally {
    await new Promise(resolve => provider.shutdown(resolve));
  }
}

main().catch(error => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
