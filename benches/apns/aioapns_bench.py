"""aioapns side of benches/apns.sh: N pushes of one payload to one token through aioapns's
public API, pointed at the emulator as in crates/emulator/tests/conformance/aioapns_client.py.
Prints one JSON line: notifications/s and round-trip percentiles.

Usage: python3 aioapns_bench.py --host H --port P --ca CA --key P8 --key-id K --team-id T
       --topic TOPIC --token HEX --count N --connections C --payload-bytes B [--in-flight F]
"""

import argparse
import asyncio
import json
import ssl
import time

from aioapns import APNs, NotificationRequest, PushType
from aioapns.connection import APNsDevelopmentClientProtocol


async def main(args) -> None:
    # aioapns has no host/port option: its pool dials these class attributes.
    APNsDevelopmentClientProtocol.APNS_SERVER = args.host
    APNsDevelopmentClientProtocol.APNS_PORT = args.port
    context = ssl.create_default_context(cafile=args.ca)
    with open(args.key) as f:
        key = f.read()
    apns = APNs(
        key=key,
        key_id=args.key_id,
        team_id=args.team_id,
        topic=args.topic,
        use_sandbox=True,
        ssl_context=context,
        max_connections=args.connections,
    )
    pad = "x" * max(0, args.payload_bytes - len(json.dumps({"call_id": "c-1", "pad": ""})))
    message = {"call_id": "c-1", "pad": pad}

    async def one() -> tuple:
        request = NotificationRequest(
            device_token=args.token,
            message=message,
            time_to_live=0,
            priority=10,
            push_type=PushType.VOIP,
        )
        started = time.perf_counter()
        result = await apns.send_notification(request)
        return result.is_successful, time.perf_counter() - started

    async def run(count: int) -> list:
        semaphore = asyncio.Semaphore(args.in_flight)

        async def bounded():
            async with semaphore:
                return await one()

        return await asyncio.gather(*(bounded() for _ in range(count)))

    await run(min(2000, args.count))  # warm up: connections, JIT-free but caches
    started = time.perf_counter()
    results = await run(args.count)
    elapsed = time.perf_counter() - started
    times = sorted(t for _, t in results)
    accepted = sum(1 for ok, _ in results if ok)

    def pct(q):
        return int(times[min(len(times) - 1, max(0, int(len(times) * q + 0.999999) - 1))] * 1e6)

    print(json.dumps({
        "client": "aioapns",
        "count": args.count,
        "connections": args.connections,
        "seconds": round(elapsed, 3),
        "per_second": round(args.count / elapsed),
        "accepted": accepted,
        "p50_us": pct(0.5),
        "p99_us": pct(0.99),
    }))
    apns.pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    for name in ["host", "ca", "key", "key-id", "team-id", "topic", "token"]:
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=100000)
    parser.add_argument("--connections", type=int, default=1)
    parser.add_argument("--payload-bytes", type=int, default=1024)
    parser.add_argument("--in-flight", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
