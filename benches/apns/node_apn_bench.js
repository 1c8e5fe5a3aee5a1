// @parse/node-apn side of benches/apns.sh: N pushes of one payload to one token, pointed at the
// emulator with node-apn's documented address/port/ca options (as in
// crates/emulator/tests/conformance/node_apn_client.js). MultiProvider gives C connections.
// Prints one JSON line: notifications/s and round-trip percentiles.
//
// Usage: node node_apn_bench.js --host H --port P --ca CA --key P8 --key-id K --team-id T
//        --topic TOPIC --token HEX --count N --connections C --payload-bytes B [--in-flight F]
'use strict';

const apn = require('@parse/node-apn');

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || i + 1 >= argv.length) {
      console.error(`bad argument ${argv[i]}`);
      process.exit(2);
    }
    out[argv[i].slice(2)] = argv[i + 1];
  }
  return out;
}

async function main() {
  const a = args();
  const count = Number(a.count || 100000);
  const connections = Number(a.connections || 1);
  const inFlight = Number(a['in-flight'] || 1000);
  const payloadBytes = Number(a['payload-bytes'] || 1024);
  const options = {
    token: { key: a.key, keyId: a['key-id'], teamId: a['team-id'] },
    production: false,
    address: a.host,
    port: Number(a.port),
    ca: a.ca,
  };
  const provider = connections > 1
    ? new apn.MultiProvider({ ...options, clientCount: connections })
    : new apn.Provider(options);
  const pad = 'x'.repeat(Math.max(0, payloadBytes - JSON.stringify({ call_id: 'c-1', pad: '' }).length));

  function note() {
    const n = new apn.Notification();
    n.topic = a.topic;
    n.pushType = 'voip';
    n.priority = 10;
    n.expiry = 0;
    n.rawPayload = { call_id: 'c-1', pad };
    return n;
  }

  async function run(total) {
    const times = [];
    let accepted = 0;
    let next = 0;
    async function worker() {
      while (next < total) {
        next += 1;
        const started = process.hrtime.bigint();
        const result = await provider.send(note(), a.token);
        times.push(Number(process.hrtime.bigint() - started) / 1000);
        accepted += result.sent.length;
      }
    }
    await Promise.all(Array.from({ length: Math.min(inFlight, total) }, worker));
    return { times, accepted };
  }

  await run(Math.min(2000, count));
  const started = process.hrtime.bigint();
  const { times, accepted } = await run(count);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  times.sort((x, y) => x - y);
  const pct = q => Math.round(times[Math.min(times.length - 1, Math.max(0, Math.ceil(times.length * q) - 1))]);
  console.log(JSON.stringify({
    client: 'node-apn',
    count,
    connections,
    seconds: Math.round(seconds * 1000) / 1000,
    per_second: Math.round(count / seconds),
    accepted,
    p50_us: pct(0.5),
    p99_us: pct(0.99),
  }));
  await new Promise(resolve => provider.shutdown(resolve));
}

main().catch(error => {
  console.error(error && error.stack ? error.stack : error);
  process.exit(1);
});
