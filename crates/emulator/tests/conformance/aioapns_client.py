"""Sends the cases of a conformance job through aioapns and prints what aioapns reported.

Usage: python3 aioapns_client.py JOB.json   (with PYTHONPATH naming setup.sh's python dir)

The job (written by crates/emulator/tests/conformance.rs):
  {"host", "port", "ca_file", "key_file", "key_id", "team_id",
   "cases": [{"name", "token", "topic", "push_type", "priority", "expiration", "ttl",
              "collapse_id", "apns_id", "payload" | "payload_size"}]}
Output: one JSON object per case, in order:
  {"name", "status", "reason", "timestamp", "apns_id", "error"}

Only aioapns's public API is used (APNs, NotificationRequest, PushType, its ssl_context
parameter), with one exception, explained at `point_at_emulator`.
"""

import asyncio
import json
import ssl
import sys
import time

from aioapns import APNs, NotificationRequest, PushType
from aioapns.connection import APNsDevelopmentClientProtocol


def point_at_emulator(host: str, port: int) -> None:
    """aioapns has no host or port option: its connection pool dials the class attributes
    APNS_SERVER and APNS_PORT of the protocol class it picks (APNsDevelopmentClientProtocol
    when use_sandbox=True). Overriding those two constants is the least invasive way to point it
    elsewhere; every other line of aioapns (HTTP/2 framing, JWT, headers, response parsing) runs
    unchanged. APNS_SERVER is also what aioapns sends as the `host` header and, through asyncio,
    the TLS server name, so it must be a name the emulator's certificate covers (127.0.0.1 is)."""
    APNsDevelopmentClientProtocol.APNS_SERVER = host
    APNsDevelopmentClientProtocol.APNS_PORT = port


def payload_of(case: dict) -> dict:
    if case.get("payload") is not None:
        return case["payload"]
    # A body of exactly payload_size bytes as aioapns serialises it (json.dumps, default
    # separators, ensure_ascii=False): pad one string field.
    size = case["payload_size"]
    empty = len(json.dumps({"pad": ""}, ensure_ascii=False).encode())
    return {"pad": "x" * (size - empty)}


def time_to_live(case: dict):
    """aioapns takes a TTL and sends `apns-expiration: int(time.time()) + ttl`. An absolute
    expiration (0: deliver once, never store) becomes the TTL that reproduces it; the second can
    tick between here and aioapns's own time.time(), which the test allows for."""
    if case.get("expiration") is not None:
        return case["expiration"] - int(time.time())
    return case.get("ttl")


async def send(apns: APNs, case: dict) -> dict:
    request = NotificationRequest(
        device_token=case["token"],
        message=payload_of(case),
        notification_id=case.get("apns_id"),
        time_to_live=time_to_live(case),
        priority=case.get("priority"),
        collapse_key=case.get("collapse_id"),
        push_type=PushType(case["push_type"]) if case.get("push_type") else None,
        apns_topic=case["topic"],
    )
    try:
        result = await apns.send_notification(request)
    except Exception as error:  # what the library raised is the finding; report it
        return {"name": case["name"], "error": f"{type(error).__name__}: {error}"}
    return {
        "name": case["name"],
        "status": int(result.status) if result.status else None,
        "reason": result.description,
        "timestamp": result.timestamp,
        "apns_id": result.notification_id,
    }


async def main(job: dict) -> None:
    point_at_emulator(job["host"], job["port"])
    # Trust the emulator's CA, otherwise the context aioapns builds by default...
    context = ssl.create_default_context(cafile=job["ca_file"])
    # No ALPN, as aioapns itself does: it speaks HTTP/2 with prior knowledge, which APNs (and
    # the emulator) accept.
    with open(job["key_file"]) as f:
        key = f.read()

    async def quiet(_request, _result):
        # aioapns logs every rejection at ERROR unless given err_func; the JSON line reports it.
        pass

    apns = APNs(
        key=key,
        key_id=job["key_id"],
        team_id=job["team_id"],
        topic=job["cases"][0]["topic"],
        use_sandbox=True,
        ssl_context=context,
        max_connections=1,
        max_connection_attempts=1,
        err_func=quiet,
    )
    # Sequential on purpose: the per-token rate cases depend on order.
    for case in job["cases"]:
        print(json.dumps(await send(apns, case)), flush=True)
    apns.pool.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} JOB.json")
    with open(sys.argv[1]) as f:
        asyncio.run(main(json.load(f)))
