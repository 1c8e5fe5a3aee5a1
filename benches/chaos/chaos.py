#!/usr/bin/env python3
"""The driver of benches/chaos.sh (standard library only).

    chaos.py emulator-config ...   the emulator's TOML: one VoIP device per call, latency, faults
    chaos.py run ...               one store: start the gateway instances, ring at a steady rate,
                                   kill -9 and restart instances, wait out the windows, measure
    chaos.py report ...            the per-store results as a table (or JSON), checked against
                                   the targets; exit 1 when one is missed

`run` stands between the gateway and its clients the way a deployment's load balancer does:
the backend's requests and the simulated app's receipts go to whichever instance is up, and a
request that meets a dead instance is sent again (the call with the same call_id, which the
gateway makes idempotent; the receipt for up to RECEIPT_PATIENCE_S, as the app retries it).
"""

import argparse
import concurrent.futures
import datetime
import http.client
import http.server
import json
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import tomllib
import urllib.parse

APP = "acme"
BUNDLE = "com.acme.call"
TOKEN_BASE = 0xC4A05 << 200
# The emulator's hook gives up after 5 s (docs/emulator.md); stay under it.
RECEIPT_PATIENCE_S = 4.0
# How long the backend keeps re-sending one create request before it counts as unanswered.
CREATE_PATIENCE_S = 60.0
FINAL_STATES = {"delivered", "answered", "cancelled", "missed", "failed"}
TARGET_INSIDE = 0.999


def token(n):
    return f"{TOKEN_BASE + n:064x}"


def log(message):
    print(f"chaos: {message}", file=sys.stderr, flush=True)


def ms(text):
    """An RFC 3339 time of the gateway's answers as ms since the epoch."""
    return datetime.datetime.fromisoformat(text).timestamp() * 1000.0


# ---- emulator-config ---------------------------------------------------------------------------


def emulator_config(args):
    half = args.faults / 2
    print('sandbox_addr = "127.0.0.1:0"\nproduction_addr = "127.0.0.1:0"\nadmin_addr = "127.0.0.1:0"')
    print(f'ca_pem_path = "{args.ca}"')
    print(f'delivery_hook_url = "{args.hook}"\ndelivery_hook_body = "app"')
    print("delivery_log_retention_secs = 7200")
    print(f"fault_seed = {args.seed}")
    # Rules are tried in order and the first hit decides: the second rule's chance is taken
    # over what the first left, so the two together hit `faults` of the requests.
    if args.faults > 0:
        print('[[faults]]\nfault = { kind = "status", reason = "InternalServerError" }')
        print(f"probability = {half}")
        print('[[faults]]\nfault = { kind = "status", reason = "ServiceUnavailable" }')
        print(f"probability = {half / (1 - half)}")
    if args.latency_ms > 0:
        print(f'[latency]\ndistribution = "fixed"\nms = {args.latency_ms}')
    print(f'[[keys]]\nkey_id = "TESTKEY001"\nteam_id = "TESTTEAM01"\nkey_file = "{args.key}"\nscope = "both"')
    for n in range(args.devices):
        print(f'[[devices]]\nenvironment = "sandbox"\ntopic = "{BUNDLE}.voip"\ntoken = "{token(n)}"')


# ---- HTTP --------------------------------------------------------------------------------------


class Unreachable(Exception):
    """No answer: the instance is down, or died while answering."""


_local = threading.local()


def call_http(port, method, path, body=None, headers=None, timeout=15.0):
    """One request on this thread's kept-alive connection to `port`: (status, parsed body)."""
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    conn = conns.get(port)
    if conn is None:
        conn = conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    data = None if body is None else json.dumps(body).encode()
    all_headers = dict(headers or {})
    if data is not None:
        all_headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=all_headers)
        answer = conn.getresponse()
        raw = answer.read()
    except (OSError, http.client.HTTPException) as error:
        conn.close()
        del conns[port]
        raise Unreachable(str(error)) from error
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return answer.status, parsed


def get_json(url, token, path):
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        body = answer.read()
    finally:
        conn.close()
    if answer.status != 200:
        raise SystemExit(f"chaos: GET {url}{path} answered {answer.status}: {body[:300]!r}")
    return json.loads(body)


def admin_list(url, token, path, key):
    """Every item of an emulator admin list, following `next` when the list is paged, and how
    many items the emulator dropped (by age or by count) before they could be read."""
    items, query = [], ""
    while True:
        page = get_json(url, token, path + query)
        items.extend(page[key])
        cursor = page.get("next")
        if cursor is None:
            dropped = page.get("dropped") or {}
            return items, sum(dropped.values())
        query = f"?limit=1000&after={urllib.parse.quote(str(cursor), safe='')}"


# ---- the gateway instances ---------------------------------------------------------------------


class Instance:
    """One `pushtrace serve` process slot: a config (so a fixed port), restarted after each kill."""

    def __init__(self, index, binary, config, log_dir):
        self.index, self.binary, self.config, self.log_dir = index, binary, config, log_dir
        with open(config, "rb") as f:
            self.port = int(tomllib.load(f)["listen"].rsplit(":", 1)[1])
        self.proc = None
        self.up = False
        self.starts = 0

    def start(self):
        self.starts += 1
        stem = os.path.join(self.log_dir, f"gateway-{self.index}-{self.starts}")
        with open(stem + ".json", "w") as out, open(stem + ".err", "w") as err:
            self.proc = subprocess.Popen(
                [self.binary, "serve", "--config", self.config, "--json"],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:
            if self.proc.poll() is not None:
                with open(stem + ".err") as f:
                    raise SystemExit(f"chaos: gateway {self.index} exited at start: {f.read()[-2000:]}")
            try:
                status, _ = call_http(self.port, "GET", "/healthz", timeout=2)
                if status == 200:
                    self.up = True
                    return
            except Unreachable:
                pass
            time.sleep(0.05)
        raise SystemExit(f"chaos: gateway {self.index} did not answer /healthz within 60 s ({stem}.err)")

    def kill(self):
        self.up = False
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Balancer:
    """Round robin over the instances that are up; a request that finds none waits for one."""

    def __init__(self, instances):
        self.instances = instances
        self.turn = 0
        self.lock = threading.Lock()

    def pick(self):
        with self.lock:
            for _ in range(len(self.instances)):
                self.turn = (self.turn + 1) % len(self.instances)
                instance = self.instances[self.turn]
                if instance.up:
                    return instance
        return None

    def request(self, method, path, body=None, headers=None, patience=CREATE_PATIENCE_S, retry_503=True):
        """(status, body, tries), or (None, error, tries) when patience ran out."""
        give_up = time.monotonic() + patience
        tries, last = 0, "no instance up"
        while True:
            instance = self.pick()
            if instance is not None:
                tries += 1
                try:
                    status, answer = call_http(instance.port, method, path, body, headers)
                    if not (retry_503 and status == 503):
                        return status, answer, tries
                    last = f"503 {answer}"
                except Unreachable as error:
                    last = str(error)
            if time.monotonic() >= give_up:
                return None, last, tries
            time.sleep(0.05)


class ReceiptProxy(http.server.ThreadingHTTPServer):
    """Where the emulator's app posts receipts: forwarded to an instance that is up."""

    daemon_threads = True

    def __init__(self, port, balancer):
        self.balancer = balancer
        self.stats = {"forwarded": 0, "resent": 0, "unanswered": 0}
        self.stats_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), ReceiptHandler)

    def count(self, key, n=1):
        with self.stats_lock:
            self.stats[key] += n


class ReceiptHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802 (the name http.server calls)
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
        status, answer, tries = self.server.balancer.request(
            "POST", self.path, body, patience=RECEIPT_PATIENCE_S, retry_503=False)
        if tries > 1:
            self.server.count("resent", tries - 1)
        if status is None:
            self.server.count("unanswered")
            status, answer = 502, {"error": f"no gateway instance answered: {answer}"}
        else:
            self.server.count("forwarded")
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


# ---- run ---------------------------------------------------------------------------------------


def run(args):
    random.seed(args.seed)
    with open(args.api_token_file) as f:
        auth = {"Authorization": f"Bearer {f.read().strip()}"}
    with open(args.emulator_json) as f:
        emulator = json.load(f)["admin"]
    admin_url, admin_token = emulator["url"], emulator["token"]
    calls = math.ceil(args.rate * args.seconds)
    instances = [Instance(i, args.pushtrace, c, args.log_dir) for i, c in enumerate(args.config)]
    balancer = Balancer(instances)
    proxy = ReceiptProxy(args.hook_port, balancer)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        for instance in instances:
            instance.start()
        log(f"{args.store}: {len(instances)} instance(s) up; registering {calls} VoIP tokens")
        register(balancer, auth, calls)
        created, kills = drive(args, balancer, auth, calls, instances)
        accepted = [c for c in created if c["accepted"]]
        if accepted:
            settle = max(c["deadline_ms"] for c in accepted) + args.lease_ms + args.grace * 1000
            wait = settle / 1000 - time.time()
            log(f"{args.store}: {len(accepted)} calls accepted; waiting {wait:.0f} s, past the last "
                f"deadline + the {args.lease_ms} ms job lease + {args.grace} s")
            time.sleep(max(0.0, wait))
        timelines = read_timelines(balancer, auth, created)
        pending = balancer.request("GET", "/healthz")[1]
        pushes, dropped_pushes = admin_list(admin_url, admin_token, "/v1/pushes", "pushes")
        deliveries, dropped_records = admin_list(admin_url, admin_token, "/v1/deliveries", "deliveries")
        hook = get_json(admin_url, admin_token, "/v1/hook")
        faults = get_json(admin_url, admin_token, "/v1/faults")
    finally:
        for instance in instances:
            instance.stop()
        proxy.shutdown()
    result = measure(created, timelines, pushes, deliveries)
    result.update({
        "store": args.store,
        "instances": len(instances),
        "seconds": args.seconds,
        "rate": args.rate,
        "window_secs": args.window,
        "kills": kills,
        "pending_jobs_at_end": pending.get("pending_jobs") if isinstance(pending, dict) else None,
        "hook": hook.get("stats"),
        "receipt_proxy": proxy.stats,
        "faults_fired": [r.get("fired") for r in faults.get("rules", [])],
        "emulator_dropped": dropped_pushes + dropped_records,
    })
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)


def register(balancer, auth, calls):
    def one(n):
        status, answer, _ = balancer.request(
            "PUT", f"/v1/apps/{APP}/tokens/{token(n)}", {"user": f"u{n}"}, auth)
        if status not in (200, 201):
            raise SystemExit(f"chaos: registering token {n} answered {status}: {answer}")

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(calls)))


def create_call(balancer, auth, n, store, window):
    """Ring user n as a backend does: the same call_id again until the gateway answers."""
    body = {"call_id": f"{store}-{n}", "caller": "chaos", "callee": f"u{n}", "window_secs": window}
    started = time.time()
    status, answer, tries = balancer.request("POST", f"/v1/apps/{APP}/calls", body, auth)
    record = {"n": n, "client_call_id": body["call_id"], "status": status, "tries": tries,
              "asked_at_ms": started * 1000, "accepted": status in (200, 201)}
    if record["accepted"]:
        record["call_id"] = answer["call"]["call_id"]
        record["deadline_ms"] = ms(answer["call"]["deadline"])
    else:
        record["error"] = answer
    return record


def drive(args, balancer, auth, calls, instances):
    """Calls at a steady rate for `seconds`, with `kills` kill -9s at random moments."""
    kill_at = sorted(random.uniform(0.1, 0.9) * args.seconds for _ in range(args.kills))
    kills = []

    def killer(start):
        for at in kill_at:
            time.sleep(max(0.0, start + at - time.monotonic()))
            victim = random.choice([i for i in instances if i.up] or instances)
            pid = victim.proc.pid
            victim.kill()
            down = random.uniform(0.2, 2.0)
            time.sleep(down)
            victim.start()
            kills.append({"at_s": round(at, 2), "instance": victim.index, "pid": pid,
                          "down_s": round(time.monotonic() - start - at, 2)})
            log(f"{args.store}: kill -9 of instance {victim.index} (pid {pid}) at {at:.1f} s, "
                f"back after {kills[-1]['down_s']} s")

    log(f"{args.store}: {calls} calls at {args.rate}/s for {args.seconds} s, "
        f"kill -9 at {', '.join(f'{t:.1f}' for t in kill_at) or 'no time'} s")
    start = time.monotonic()
    kill_thread = threading.Thread(target=killer, args=(start,))
    kill_thread.start()
    futures = []
    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        for n in range(calls):
            time.sleep(max(0.0, start + n / args.rate - time.monotonic()))
            futures.append(pool.submit(create_call, balancer, auth, n, args.store, args.window))
        created = [f.result() for f in futures]
    kill_thread.join()
    return created, kills


def read_timelines(balancer, auth, created):
    def one(record):
        if record["accepted"]:
            path = f"/v1/calls/{record['call_id']}"
        else:
            path = f"/v1/apps/{APP}/calls/{record['client_call_id']}"
        status, answer, _ = balancer.request("GET", path, headers=auth)
        if status == 404:
            return None
        if status != 200:
            raise SystemExit(f"chaos: GET {path} answered {status}: {answer}")
        return answer

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, created))


# ---- measure -----------------------------------------------------------------------------------


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(p * len(values)))]


def measure(created, timelines, pushes, deliveries):
    delivered_at = {d["apns_unique_id"] or d["apns_id"]: d["delivered_at_ms"] for d in deliveries}
    by_call = {}
    for push in pushes:
        payload = push["payload"] if isinstance(push["payload"], dict) else {}
        if push["push_type"] == "voip" and payload.get("call_id"):
            by_call.setdefault(payload["call_id"], []).append(push)

    counts = {"accepted": 0, "unanswered": 0, "unanswered_in_store": 0, "lost": 0, "stuck": 0,
              "stuck_ringing": 0, "stuck_pushes": 0, "rung_twice": 0, "rung_twice_avoidable": 0,
              "rung_twice_same_push": 0, "rung_twice_retry": 0, "inside_window": 0,
              "create_retried": 0}
    outside = {}
    states = {}
    first_ring_ms = []
    examples = {"lost": [], "stuck": [], "avoidable": [], "outside": []}

    def example(kind, record, **detail):
        if len(examples[kind]) < 5:
            examples[kind].append({"call_id": record.get("call_id"),
                                   "client_call_id": record["client_call_id"], **detail})

    for record, timeline in zip(created, timelines):
        if not record["accepted"]:
            counts["unanswered"] += 1
            counts["unanswered_in_store"] += timeline is not None
            continue
        counts["accepted"] += 1
        counts["create_retried"] += record["tries"] > 1
        if timeline is None:
            counts["lost"] += 1
            example("lost", record, why="not in the store")
            continue
        call = timeline["call"]
        states[call["state"]] = states.get(call["state"], 0) + 1
        deadline = ms(call["deadline"])
        voip = [p for p in timeline["pushes"] if p["push_type"] == "voip"]
        sent = sorted(by_call.get(call["call_id"], []), key=lambda p: p["received_at_ms"])
        rings = [p for p in sent if delivered_at.get(p["apns_unique_id"] or p["apns_id"])]

        unresolved = [p["push_id"] for p in voip if p["apns_status"] is None and p["error"] is None]
        if call["state"] not in FINAL_STATES or unresolved:
            counts["stuck"] += 1
            counts["stuck_ringing"] += call["state"] not in FINAL_STATES
            counts["stuck_pushes"] += len(unresolved)
            example("stuck", record, state=call["state"], unresolved_pushes=unresolved)

        explained = call["state"] == "failed" or any(
            p["error"] or p["apns_reason"] for p in voip) or any(
            e["kind"] in ("push.gave_up", "job.abandoned") for e in timeline["events"])
        if not sent and not explained:
            counts["lost"] += 1
            example("lost", record, why="never pushed, no reason recorded", state=call["state"])

        if rings and rings[0]["received_at_ms"] < deadline:
            counts["inside_window"] += 1
            first_ring_ms.append(rings[0]["received_at_ms"] - ms(call["created_at"]))
        else:
            why = why_outside(rings, voip, timeline["events"], call["state"])
            outside[why] = outside.get(why, 0) + 1
            example("outside", record, why=why, state=call["state"])

        if len(rings) >= 2:
            counts["rung_twice"] += 1
            receipts = {}
            push_token = {p["push_id"]: p["token"] for p in timeline["pushes"]}
            for receipt in timeline["receipts"]:
                tok = push_token.get(receipt["push_id"])
                at = ms(receipt["received_at"])
                receipts[tok] = min(at, receipts.get(tok, at))
            seen_ids = {rings[0]["apns_id"]}
            avoidable = None
            for ring in rings[1:]:
                same = ring["apns_id"] in seen_ids
                seen_ids.add(ring["apns_id"])
                recorded = receipts.get(ring["token"])
                if avoidable is None and recorded is not None and recorded < ring["received_at_ms"]:
                    avoidable = {"resent_after_receipt_ms": round(ring["received_at_ms"] - recorded),
                                 "same_push_id": same}
            kind = "rung_twice_same_push" if rings[1]["apns_id"] == rings[0]["apns_id"] else "rung_twice_retry"
            counts[kind] += 1
            if avoidable:
                counts["rung_twice_avoidable"] += 1
                example("avoidable", record, **avoidable)

    accepted = counts["accepted"]
    return {
        **counts,
        "inside_window_share": counts["inside_window"] / accepted if accepted else None,
        "outside_window_by_reason": outside,
        "states": states,
        "first_ring_ms": {"p50": percentile(first_ring_ms, 0.5), "p99": percentile(first_ring_ms, 0.99)},
        "examples": examples,
    }


def why_outside(rings, voip, events, state):
    if rings:
        return "rang after the deadline"
    errors = {p["error"] for p in voip if p["error"]}
    for error in sorted(errors):
        if error.startswith("not sent"):
            return error
    if any(e["kind"] == "push.gave_up" for e in events):
        return "retries given up"
    if any(p["apns_reason"] for p in voip):
        return "refused by APNs"
    if errors:
        return "transport failure"
    return f"never rang (call {state})"


# ---- report ------------------------------------------------------------------------------------


def missed_targets(r):
    missed = []
    if r["accepted"] == 0:
        missed.append("no call accepted")
    if r.get("emulator_dropped"):
        missed.append(f"incomplete: the emulator dropped {r['emulator_dropped']} log entries")
    for key in ("lost", "stuck", "rung_twice_avoidable"):
        if r[key]:
            missed.append(f"{key.replace('_', ' ')}: {r[key]}")
    if r["inside_window_share"] is not None and r["inside_window_share"] < TARGET_INSIDE:
        missed.append(f"inside the window {r['inside_window_share'] * 100:.2f} % < {TARGET_INSIDE * 100:.1f} %")
    return missed


def report(args):
    results = []
    for path in args.results:
        with open(path) as f:
            r = json.load(f)
        r["missed_targets"] = missed_targets(r)
        results.append(r)
    summary = {"commit": args.commit, "date": args.date, "latency_ms": args.latency_ms,
               "faults": args.faults, "seed": args.seed,
               "targets": {"lost": 0, "stuck": 0, "rung_twice_avoidable": 0,
                           "inside_window_share": TARGET_INSIDE},
               "stores": results, "ok": not any(r["missed_targets"] for r in results)}
    if args.json:
        json.dump(summary, sys.stdout, indent=1)
        print()
    else:
        print(markdown(summary))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(markdown(summary) + "\n")
    return 0 if summary["ok"] else 1


def markdown(s):
    lines = [
        f"Chaos bench, commit {s['commit']}, {s['date']}: APNs emulator with {s['latency_ms']} ms "
        f"latency and {s['faults'] * 100:g} % injected 500/503 (seed {s['seed']}), devices posting "
        "receipts; calls at a steady rate, gateway instances killed with SIGKILL at random moments "
        "and restarted. Targets: 0 lost, 0 stuck, 0 avoidable duplicates, "
        f"≥ {TARGET_INSIDE * 100:.1f} % pushed inside the window.",
        "",
        "| store | instances | kill -9 | accepted | lost | stuck | rung twice (avoidable) "
        "| same push / retry | inside window | first ring p50 / p99 ms | targets |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in s["stores"]:
        share = "—" if r["inside_window_share"] is None else f"{r['inside_window_share'] * 100:.2f} %"
        ring = r["first_ring_ms"]
        fmt = lambda v: "—" if v is None else f"{v:.0f}"
        lines.append(
            f"| {r['store']} | {r['instances']} | {len(r['kills'])} | {r['accepted']} | {r['lost']} "
            f"| {r['stuck']} | {r['rung_twice']} ({r['rung_twice_avoidable']}) "
            f"| {r['rung_twice_same_push']} / {r['rung_twice_retry']} | {share} "
            f"| {fmt(ring['p50'])} / {fmt(ring['p99'])} "
            f"| {'met' if not r['missed_targets'] else 'missed: ' + '; '.join(r['missed_targets'])} |")
    lines.append("")
    for r in s["stores"]:
        hook, proxy = r.get("hook") or {}, r["receipt_proxy"]
        kills = ", ".join(f"{k['at_s']} s (#{k['instance']}, down {k['down_s']} s)" for k in r["kills"])
        lines.append(
            f"- {r['store']}: {r['rate']} calls/s for {r['seconds']} s, window {r['window_secs']} s; "
            f"states {json.dumps(r['states'], sort_keys=True)}; outside the window "
            f"{json.dumps(r['outside_window_by_reason'], sort_keys=True)}; creates sent again "
            f"{r['create_retried']}, unanswered {r['unanswered']} (in the store: "
            f"{r['unanswered_in_store']}); kills {kills}; "
            f"faults fired {r['faults_fired']}; receipts posted {hook.get('posted')}, "
            f"failed {hook.get('failed')}, dropped {hook.get('dropped')}, sent again by the "
            f"balancer {proxy['resent']}; jobs pending at the end {r['pending_jobs_at_end']}.")
        for kind in ("lost", "stuck", "avoidable"):
            for e in r["examples"][kind][:3]:
                lines.append(f"  - {kind}: {json.dumps(e, sort_keys=True)}")
    return "\n".join(lines)


# ---- arguments ---------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    e = sub.add_parser("emulator-config")
    e.add_argument("--devices", type=int, required=True)
    e.add_argument("--key", required=True)
    e.add_argument("--ca", required=True)
    e.add_argument("--hook", required=True)
    e.add_argument("--latency-ms", type=int, default=400)
    e.add_argument("--faults", type=float, default=0.05)
    e.add_argument("--seed", type=int, default=1)

    r = sub.add_parser("run")
    r.add_argument("--store", required=True)
    r.add_argument("--pushtrace", required=True)
    r.add_argument("--config", action="append", required=True, help="one per instance")
    r.add_argument("--emulator-json", required=True)
    r.add_argument("--api-token-file", required=True)
    r.add_argument("--hook-port", type=int, required=True)
    r.add_argument("--seconds", type=float, default=60)
    r.add_argument("--rate", type=float, default=20)
    r.add_argument("--kills", type=int, default=3)
    r.add_argument("--window", type=int, default=60)
    r.add_argument("--lease-ms", type=int, default=30000)
    r.add_argument("--grace", type=float, default=15)
    r.add_argument("--seed", type=int, default=1)
    r.add_argument("--log-dir", required=True)
    r.add_argument("--out", required=True)

    p = sub.add_parser("report")
    p.add_argument("results", nargs="+")
    p.add_argument("--commit", required=True)
    p.add_argument("--date", required=True)
    p.add_argument("--latency-ms", type=int, required=True)
    p.add_argument("--faults", type=float, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--json", action="store_true")
    p.add_argument("--markdown")

    args = parser.parse_args()
    if args.command == "emulator-config":
        if not 0 <= args.faults < 1:
            parser.error("--faults must be a share from 0 to below 1 (0.05 is 5 %)")
        emulator_config(args)
    elif args.command == "run":
        if args.rate <= 0 or args.seconds <= 0:
            parser.error("--rate and --seconds must be above 0")
        run(args)
    else:
        sys.exit(report(args))


if __name__ == "__main__":
    main()
