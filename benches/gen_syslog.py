#!/usr/bin/env python3
"""Generate a large, deterministic `log show --style syslog` export of an iPhone for the
log-reading benchmark (benches/logs.sh).

    python3 benches/gen_syslog.py --size 2G --out benches/data/syslog-2g.log [--seed 1]

Row shape (docs/reference/ios-logs.md §1.2):

    2026-05-20 17:48:41.248113+0300  localhost apsd[112]: (IOKit) [com.apple.apsd:power] Update assertion policy 3

The file opens with the header `Timestamp                       (process)[PID]`. About 5 % of the
records come from the push-relevant processes (pushtrace's `--push-set`) and use the message
shapes catalogued in docs/reference/ios-logs.md §3; the rest is noise from the daemons and apps
an iPhone logs the most, with varied lengths (40-400 bytes, a few up to 2 KB), senders and subsystems. Some
noise messages name a push-set process inside their text (as real logs do: "client pid: 112
(apsd)", "com.apple.powerd.assertionpolicy"), so `rg -F` with the push-set names matches a few
more lines than pushtrace reports. About one record in 5000 is PushKit's warning or kill message
logged inside a VoIP app's own process (docs/reference/ios-logs.md §3.7), which pushtrace keeps
from any process and rg's name list does not match. A few messages span several lines (continuation lines carry no
timestamp), and now and then a row is a few hundred microseconds earlier than the one before.

Speed: bodies (everything after the timestamp) are precomputed into a pool once; the hot loop only
picks a body, advances the clock and formats the timestamp, and writes in large batches.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import sys
import time

HEADER = "Timestamp                       (process)[PID]\n"

PUSH_SET = [
    "apsd", "powerd", "kernel", "symptomsd", "CommCenter", "callservicesd",
    "SpringBoard", "runningboardd", "dasd", "wifid", "configd",
]

# ---------------------------------------------------------------------------------------------
# Random fillers (all draw from the generator's own random.Random, so output is seeded).

APPS = [
    ("com.example.app", "Comera"), ("com.courtbuddy.CourtBuddy", "CourtBuddy"),
    ("org.linphone.phone", "linphone"), ("com.twilio.voice.quickstart", "VoiceQuickstart"),
    ("net.whatsapp.WhatsApp", "WhatsApp"), ("ph.telegra.Telegraph", "Telegram"),
    ("com.skype.skype", "Skype"), ("org.jitsi.meet", "jitsi-meet"),
    ("com.zoiper.zoiperiphone", "Zoiper"), ("com.signal.Signal", "Signal"),
    ("com.acme.Café", "Café"),
]
HOSTS = [
    "init.push.apple.com", "courier.push.apple.com", "gateway.icloud.com", "gsa.apple.com",
    "api.example.com", "mesu.apple.com", "gs.apple.com", "configuration.apple.com",
    "p45-caldav.icloud.com", "graph.facebook.com", "www.google.com", "weather-data.apple.com",
]
IFACES = ["en0", "pdp_ip0", "pdp_ip1", "ipsec0", "utun2", "awdl0", "llw0"]
WORDS = (
    "state changed active inactive request response token session client server record "
    "timer update queue policy context handle entry service connection network interface "
    "battery display lock unlock scan result object identifier transaction scheduled deferred "
    "priority budget cache fetch store sync container zone device account region beacon tile "
    "assertion sample metric attribute snapshot descriptor payload handler activity registry"
).split()


def hexs(r: random.Random, n: int) -> str:
    return "%0*x" % (n, r.getrandbits(4 * n))


def uuid(r: random.Random) -> str:
    h = hexs(r, 32).upper()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def ptr(r: random.Random) -> str:
    return "0x" + hexs(r, 9)


def ip4(r: random.Random) -> str:
    return f"{r.randint(17, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def words(r: random.Random, n: int) -> str:
    return " ".join(r.choice(WORDS) for _ in range(n))


def kvdict(r: random.Random, n: int) -> str:
    parts = []
    for _ in range(n):
        k = r.choice(WORDS) + r.choice(["", "ID", "Count", "State", "Interval", "Name"])
        v = r.choice([
            str(r.randint(0, 100000)), hexs(r, 8), r.choice(WORDS), "YES", "NO", "(null)",
            "<private>", f"{r.random() * 100:.3f}", uuid(r),
        ])
        parts.append(f"{k}: {v}")
    return "{" + ", ".join(parts) + "}"


def make_fragments(r: random.Random, n: int) -> list[str]:
    """Plausible trailing details that pad noise messages to their drawn length."""
    makers = [
        lambda: kvdict(r, r.randint(2, 6)),
        lambda: f"({words(r, r.randint(3, 9))})",
        lambda: f"<{r.choice(['NSXPCConnection', 'OS_xpc_object', 'BSServiceConnection', 'NSOperation'])}: {ptr(r)}>",
        lambda: f"uuid={uuid(r)}",
        lambda: f"data=<{' '.join(hexs(r, 8) for _ in range(r.randint(2, 12)))}>",
    ]
    return [r.choice(makers)() for _ in range(n)]


FRAGMENTS: list[str] = []


def pad_to(r: random.Random, msg: str, target: int) -> str:
    """Grow a message with trailing detail until it is about `target` bytes long."""
    extra = []
    length = len(msg)
    n = len(FRAGMENTS)
    while length < target:
        piece = FRAGMENTS[int(r.random() * n)]
        extra.append(piece)
        length += len(piece) + 1
    return msg + (" " + " ".join(extra) if extra else "")


def noise_length(r: random.Random) -> int:
    """Message length for noise: mostly 40-400 bytes, about 1 % between 400 and 2 KB."""
    x = r.random()
    if x < 0.01:
        return r.randint(400, 2000)
    if x < 0.25:
        return r.randint(40, 90)
    if x < 0.80:
        return r.randint(90, 220)
    return r.randint(220, 400)


# ---------------------------------------------------------------------------------------------
# Push-set processes: message shapes from docs/reference/ios-logs.md §3 (exact strings where it
# gives them).

def m_apsd(r):
    app, _ = r.choice(APPS)
    conn = f"<APSCourier: {ptr(r)}>"
    return r.choice([
        ("IOKit", "com.apple.apsd:power", f"Update assertion policy {r.choice([0, 0, 1, 3, 3])}"),
        ("IOKit", "com.apple.apsd:power", "Powerd has requested assertion activity update"),
        ("IOKit", "com.apple.apsd:power", "Registering for assertion policy changes"),
        (None, "com.apple.apsd:power", "Created power assertion {identifier: APSCourier(tcpStream:dataReceived:)}"),
        (None, "com.apple.apsd:courier", f"{conn}: Outstanding data received: <private> (length {r.randint(40, 4000)}) onInterface: {r.choice(['NonCellular', 'Cellular'])}. Connected on {r.randint(0, 2)} interfaces."),
        (None, "com.apple.apsd:courier", f"{conn}: Stream processing: complete yes, invalid no, length parsed {r.randint(40, 4000)}, parameters <private>"),
        (None, "com.apple.apsd:courier", "copyTokenForDomain sandbox.push.apple.com (null)"),
        ("libnetwork.dylib", "com.apple.network:connection",
         f"[C{r.randint(1, 400)} IPv4#{hexs(r, 8)}:5223 ready parent-flow (satisfied (Path is satisfied), interface: pdp_ip0[lte], scoped, ipv4, ipv6, dns, expensive, uses cell, LQM: good)] event: path:satisfied_change @{r.uniform(1, 900):.3f}s"),
        (None, "com.apple.apsd:courier", f"{conn}: Received message for enabled topic '{app}.voip' onInterface: {r.choice(['NonCellular', 'Cellular'])} with payload '<private>' with priority {r.choice([5, 10])} for device token: NO isProxyMessage: NO, apsd current QOS: {r.choice(['interactive', 'default'])}"),
        (None, "com.apple.apsd:courier", f"{conn}: [ExplicitKA] Sending keep alive message with delayed response interval {r.choice([0, 30, 60])} via conn: <APSTCPStream: {ptr(r)}> onInterface: {r.choice(['WWAN', 'WiFi'])}. reason: {r.choice(['timer', 'wake', 'interface change'])}. Connected on 1 interfaces. Current link quality: {r.randint(40, 100)}"),
        (None, "com.apple.apsd:courier", f"{conn}: [ImplicitKA] Reset timer on {r.choice(['WWAN', 'WiFi'])} due to {r.choice(['incoming data', 'outgoing data'])}, next KA in {r.randint(200, 1800)}sec"),
        (None, "com.apple.apsd:connection", f"<APSCourierConnectionManager: {ptr(r)}> _connectStream - dual channel with {r.randint(0, 2)} connected interfaces. isWWANUsable YES, isWiFiUsable NO. Not attempting to connect."),
        (None, "com.apple.apsd:connection", f"<APSTopicFilterPolicyEmbedded: {ptr(r)}> policy state {{downgradeWhenLocked: YES, isSystemLocked: {r.choice(['YES', 'NO'])}, isConnectedOnUltraConstrainedInterface: NO}}"),
    ])


def m_powerd(r):
    return r.choice([
        (None, "com.apple.powerd:assertions", f"Sending com.apple.powerd.assertionpolicy {r.choice([0, 3])}"),
        (None, "com.apple.powerd:displayState", f"Display state: {r.choice(['On', 'Off'])} NotificationWake : {r.randint(0, 1)}"),
        (None, "com.apple.powerd:userActivity", f"Activity changes from 0x{r.randint(0, 3):x} to 0x{r.randint(0, 3):x}. UseActiveState:{r.randint(0, 1)}"),
        (None, "com.apple.powerd:assertions", f"Process assertiond.63 Released SystemIsActive \"CourtBuddy:3072:112-{r.randint(1000, 99999)} [CSDVoIPProcessAssertion-Com.Courtbuddy.Courtbuddy] [{ptr(r)}]\" age:00:00:0{r.randint(1, 9)}  id:{r.randint(10**10, 10**11)} [System: PrevIdle SysAct]"),
        (None, "com.apple.powerd:assertions", "System Assertion Timeout: Starting System Assertion Timer"),
        (None, "com.apple.powerd:sleepWake", f"Wake [CDNVA]  : Using BATT (Charge:{r.randint(5, 100)}%)"),
    ])


def m_kernel(r):
    app = r.choice(APPS)[1]
    return r.choice([
        (None, "com.apple.xnu.net.necp:necp", f"necp_process_defunct_list: necp_update_client abort nexus error (2) for pid {r.randint(300, 9000)} {app}"),
        ("Sandbox", None, f"Sandbox: {app}({r.randint(300, 9000)}) deny(1) file-read-data /private/var/mobile/Library/Preferences/com.apple.{r.choice(WORDS)}.plist"),
        (None, None, f"en0: BSSID changed to {':'.join(hexs(r, 2) for _ in range(6))}"),
        ("AppleBCMWLANCore", None, f"wlan0:com.apple.p2p: isInfraRealtimePacketThresholdAllowed allowed:{r.randint(0, 1)} option:{r.randint(0, 32)} threshold:{r.randint(10, 200)} noRegistrations:{r.randint(0, 1)} cachedPeerCount:{r.randint(0, 4)}"),
        (None, None, f"memorystatus: killing_specific_process pid {r.randint(300, 9000)} [{app}] (per-process-limit {r.randint(1, 9)}) {r.randint(20000, 900000)}KB - memorystatus_available_pages: {r.randint(1000, 90000)}"),
        ("IOSurface", None, f"IOSurface: buffer allocation size is zero for {r.randint(1, 4000)}"),
        (None, None, f"AppleKeyStore:Sending lock change {r.randint(0, 1)} for handle {r.randint(0, 3)}"),
        ("AppleMultitouchSPI", None, f"AppleMultitouchDevice::willTerminate {ptr(r)}"),
    ])


def m_symptomsd(r):
    return r.choice([
        ("SymptomEvaluator", "com.apple.symptomsd:netepochs", f"New RRC {r.randint(0, 1)} when previous {r.randint(0, 1)} from pdp_ip0"),
        ("SymptomEvaluator", "com.apple.symptomsd:flow", f"L2 Metrics on ifname en0: rssi: -{r.randint(40, 90)} (txFrames/txReTx/txFail) {r.randint(0, 99)}/{r.randint(0, 9)}/0 -> (was/is) 0/0"),
        (None, "com.apple.symptomsd:appstate", f"{r.randint(100, 9000)} com.apple.UIKit.ShareUI: ForegroundRunning (most elevated: ForegroundRunning)"),
    ])


def m_commcenter(r):
    return r.choice([
        (None, "com.apple.telephony:reg", "#I Mapping the registration state to kRegisteredHome"),
        (None, "com.apple.telephony:data", f"#I Data context {r.randint(0, 2)} activated on pdp_ip{r.randint(0, 1)}, rat={r.choice(['LTE', 'NR5G', 'WCDMA'])}"),
        (None, "com.apple.telephony:ps", f"#I CellularRadioState: signal bars {r.randint(0, 4)}, rsrp -{r.randint(80, 130)} dBm"),
    ])


def m_callservicesd(r):
    bundle, app = r.choice(APPS)
    return r.choice([
        (None, "com.apple.calls.callservicesd:Default", f"Received incoming APS message from application with bundle identifier {bundle} and topic {bundle}.voip"),
        (None, "com.apple.calls.callservicesd:Default", f"Attempting to open application {bundle} and acquire a process assertion"),
        (None, "com.apple.calls.callservicesd:Default", "Successfully opened application"),
        (None, "com.apple.calls.callservicesd:Default", "Successfully took out process assertion"),
        (None, "com.apple.calls.callservicesd:Default", f"Invalidating process assertion for {bundle}"),
        (None, "com.apple.calls.callservicesd:Default", f"Requesting token for topic {bundle}.voip"),
        (None, "com.apple.calls.callservicesd:Default", f"Application {bundle} will not be launched because it failed to report an incoming call too many times (or repeatedly crashed.)"),
    ])


def m_springboard(r):
    bundle, app = r.choice(APPS)
    return r.choice([
        ("FrontBoard", "com.apple.FrontBoard:Common", f"[FBSystemService][0x{hexs(r, 4)}] Received request to open \"{bundle}\" from callservicesd:112."),
        ("FrontBoard", "com.apple.FrontBoard:Common", f"Received trusted open application request for \"{bundle}\" from <FBProcess: {ptr(r)}; callservicesd (com.apple.TelephonyUtilities); pid: 112>."),
        (None, "com.apple.SpringBoard:ProcessState", f"Application process state changed for {bundle}: <SBApplicationProcessState: {ptr(r)}; pid: {r.randint(300, 9000)}; taskState: {r.choice(['Suspended', 'Running'])}; visibility: {r.choice(['Background', 'Foreground'])}>"),
        (None, "com.apple.SpringBoard:Idle", f"Idle timer {r.choice(['enabled', 'disabled'])} for reason: {words(r, 2)}"),
        ("BackBoardServices", "com.apple.BackBoard:Lock", f"lock state changed to {r.choice(['locked', 'unlocked'])} ({words(r, 3)})"),
    ])


def m_runningboardd(r):
    bundle, app = r.choice(APPS)
    n = f"{r.randint(10, 99)}-{r.randint(100, 999)}-{r.randint(10000, 99999)}"
    return r.choice([
        (None, "com.apple.runningboard:assertion", f"Attempting to rename power assertion {r.randint(1000, 90000)} for target application<{bundle}> to application<{bundle}>;{n}:CSDVoIPProcessAssertion-{bundle}(VoIP);"),
        (None, "com.apple.runningboard:assertion", f"Invalidating assertion {n} (target:[application<{bundle}>:{r.randint(300, 9000)}]) from originator [daemon<com.apple.telephonyutilities.callservicesd>:143]"),
        (None, "com.apple.runningboard:process", f"[app<{bundle}>:{r.randint(300, 9000)}] Set jetsam priority to {r.choice([0, 3, 10])} [0] flag[1] (inherited: NO)"),
        (None, "com.apple.runningboard:monitor", f"Calculated state for app<{bundle}>: running-suspended (role: None) (endowment namespaces: [])"),
    ])


def m_dasd(r):
    return r.choice([
        (None, "com.apple.duetactivityscheduler:scoring", f"InternetSharingActive = {r.choice(['0', '1'])}"),
        (None, "com.apple.duetactivityscheduler:scoring", f"Internet Sharing Policy: decision {r.choice([0, 33])} for com.apple.{r.choice(WORDS)}.{r.choice(WORDS)}"),
        (None, "com.apple.duetactivityscheduler:lifecycle", f"'{r.choice(WORDS)}-{r.randint(1, 9999)}' CurrentScore: {r.random():.3f}, ThresholdScore: {r.random():.3f} DecisionToRun:{r.randint(0, 1)}"),
    ])


def m_wifid(r):
    return r.choice([
        (None, "com.apple.WiFiManager:", f"__WiFiDeviceProcessLinkEvent: link {r.choice(['up', 'down'])} on en0, rssi -{r.randint(40, 90)}"),
        (None, "com.apple.WiFiManager:", f"WiFiLQAMgrCopyCoalescedUndispatchedLQMEvent: rssi=-{r.randint(40, 90)} snr={r.randint(5, 45)} txRate={r.randint(6, 866)}"),
    ])


def m_configd(r):
    return r.choice([
        (None, "com.apple.SystemConfiguration:IPMonitor", f"network changed: v4(en0+:{ip4(r)}) DNS+ Proxy+ SMB"),
        (None, "com.apple.SystemConfiguration:KernelEventMonitor", f"Process interface {r.choice(['attach', 'detach', 'link up', 'link down'])}: {r.choice(IFACES)}"),
        (None, None, "store_notifier: changedKeys State:/Network/Interface/en0/AirPort"),
    ])


# (process, pids, weight inside the push set, generator)
PUSH_PROCS = [
    ("kernel", [0], 30, m_kernel),
    ("SpringBoard", [54], 14, m_springboard),
    ("runningboardd", [33], 14, m_runningboardd),
    ("symptomsd", [118], 9, m_symptomsd),
    ("CommCenter", [86], 8, m_commcenter),
    ("apsd", [112], 8, m_apsd),
    ("wifid", [61], 5, m_wifid),
    ("configd", [40], 4, m_configd),
    ("dasd", [93], 4, m_dasd),
    ("powerd", [63], 2, m_powerd),
    ("callservicesd", [143], 2, m_callservicesd),
]

# ---------------------------------------------------------------------------------------------
# Noise: (process, pids, weight, senders, subsystems, base messages). Placeholders {..} are filled
# per body. Some messages name a push-set process (MENTIONS), as real logs do.

NOISE_PROCS = [
    ("mDNSResponder", [192], 10, ["libsystem_info.dylib", None], ["com.apple.mDNSResponder:Default", None],
     ["[R{n}] getaddrinfo start -- flags: 0xC000D000, ifindex: 0, protocols: 0, hostname: <mask.hash: '{h}'>, options: 0x0 {{}}, client pid: {p} ({app})",
      "[R{n}->Q{n}] Question for <mask.hash: '{h}'> (Addr) assigned DNS service {n}",
      "[Q{n}] Sent {n2}-byte query #{n2} to {ip}:53 over UDP via en0/pdp_ip0 -- id: 0x{h4}"]),
    ("locationd", [71], 9, [None, "CoreLocation"], ["com.apple.locationd.Core:Client", "com.apple.locationd.Position:Position", None],
     ["{{\"msg\":\"#fusion inputs\", \"source\":\"{w}\", \"hunc\":{f}, \"lat\":\"<private>\", \"lon\":\"<private>\"}}",
      "{{\"msg\":\"client authorization\", \"Client\":\"<private>\", \"registrationReason\":\"{w}\"}}",
      "@ClxClient, notify, {w}, {n}, {f}"]),
    ("bluetoothd", [98], 7, [None, "BluetoothAudio"], ["com.apple.bluetooth:Server.LE.Scan", "com.apple.bluetooth:Server.Core", None],
     ["Found device {uuid} rssi -{rssi} type {n2} advertisement <{hexs}>",
      "Received 'LE Meta Event' (0x3E) event with {n2} bytes",
      "startScan: scanning for {w} with duty cycle {n2}"]),
    ("backboardd", [59], 8, ["BackBoardServices", "IOKit", None], ["com.apple.backboard.hid:touch", "com.apple.BackBoard:Lock", None],
     ["contact {n2} presence: {w} force {f}",
      "Sending event to {w} client {ptr} for display {n2}",
      "brightness {f} -> {f} (rate {f})"]),
    ("searchd", [401], 3, [None, "CoreSpotlight"], ["com.apple.spotlight.index:Index", None],
     ["Indexed {n} items for bundle {bundle} in {f}s", "Merge completed for index {n2} ({n} items)"]),
    ("cloudd", [235], 6, ["CloudKit", None], ["com.apple.cloudkit:op", "com.apple.cloudkit:engine", None],
     ["[CKOperation {h4}] Starting operation {uuid} ({w}) for container com.apple.{w}",
      "Finished fetch of {n2} records in zone {w} with error (null)",
      "Scheduling retry for operation {uuid} after {n2}s"]),
    ("nsurlsessiond", [128], 6, ["CFNetwork", None], ["com.apple.CFNetwork:Summary", "com.apple.nsurlsessiond:background", None],
     ["Task <{uuid}>.<{n2}> summary for task success {{transaction_duration_ms={n}, response_status=200, connection={n2}, protocol=\"h2\", domain_lookup_duration_ms={n2}}}",
      "Task <{uuid}>.<{n2}> resuming, timeouts(60.0, 604800.0) qos(0x19) voucher(0x0) activity({uuid})",
      "[{bundle}] Background upload task {n2} state changed to {w}"]),
    ("trustd", [80], 5, ["Security", None], ["com.apple.securityd:ocsp", "com.apple.securityd:trust", None],
     ["cert[0]: {w} =(leaf)[force]> 0", "OCSP response for {h} served from cache ({n2}s old)", "Trust evaluate finished for {host}: {w}"]),
    ("identityservicesd", [207], 5, ["IDS", None], ["com.apple.IDS:IDSDaemon", "com.apple.IDS:Registration", None],
     ["<IDSDaemon: {ptr}> Received incoming message on topic com.apple.madrid with command {n2}",
      "Registration state for {w} is {n2}", "Queued outgoing message {uuid} for {n2} destinations"]),
    ("UserEventAgent", [44], 4, ["com.apple.notifyd.matching", None], ["com.apple.notifyd.matching:default", None],
     ["posting notification com.apple.{w}.{w} for client {n2}", "matched event {n} for {w}", "Timer fired for com.apple.{w}.{w}"]),
    ("WirelessRadioManagerd", [150], 3, [None], ["com.apple.WirelessRadioManager:Coex", None],
     ["WCMBTCoexStats: {w} LTE band {n2} BT state {n2}", "Coex policy update: {w} {n2}/{n2}"]),
    ("assistantd", [310], 3, ["AssistantServices", None], ["com.apple.siri:Conn", None],
     ["-[ADDaemon _{w}{w}] {w} {uuid}", "Session {uuid} state {w} -> {w}"]),
    ("mediaserverd", [89], 4, ["AudioToolbox", "CoreMedia", None], ["com.apple.coreaudio:as_server", "com.apple.coremedia:", None],
     ["   AudioSessionServerImp.mm:{n2}   {{ \"action\":\"{w}\", \"session\":{{\"ID\":\"0x{h4}\",\"name\":\"{app}({p})\"}}, \"details\":{{\"{w}\":{n2}}} }}",
      "<<<< FigAudioSession >>>> {w}: {n2} frames"]),
    ("MobileSafari", [2210], 3, ["WebKit", "CFNetwork", None], ["com.apple.WebKit:Loading", "com.apple.Safari:Tabs", None],
     ["{ptr} - [pageProxyID={n2}, webPageID={n2}, PID={n}] WebPageProxy::didFinishLoadForFrame: frameID={n}, isMainFrame=1",
      "Tab {uuid} became {w}"]),
    ("WhatsApp", [3150], 2, ["CFNetwork", "UIKitCore", None], ["net.whatsapp.WhatsApp:xmpp", None],
     ["xmpp/stream/{w} {n2} bytes", "app state {w} -> {w}"]),
    ("Telegram", [3321], 2, ["CFNetwork", None], [None, "ph.telegra.Telegraph:network"],
     ["[MTProto] {w} request {n} sent", "connection {n2} state {w}"]),
    ("rapportd", [170], 3, [None], ["com.apple.rapport:Daemon", None],
     ["Device found: {uuid}, {w}", "Discovery {w} for {n2} devices"]),
    ("sharingd", [176], 4, [None, "Sharing"], ["com.apple.sharing:AirDrop", "com.apple.sharing:Proximity", None],
     ["SDNearbyAgent: {w} {n2} peers", "Advertising {w} for {n2}s", "BLE scan rate changed to {w}"]),
    ("coreduetd", [190], 3, [None], ["com.apple.coreduet:knowledge", None],
     ["Saved {n2} events for stream /{w}/{w}", "Deleting {n2} events older than {n2} days"]),
    ("geod", [260], 2, ["GeoServices", None], ["com.apple.GeoServices:Tiles", None],
     ["Loaded {n2} tiles from cache for style {n2}", "Tile request {uuid} finished in {f}s"]),
    ("itunesstored", [270], 2, ["StoreServices", None], ["com.apple.StoreServices:Bag", None],
     ["Loading bag for profile {w}", "[{h4}] Request finished: {n2} ({host})"]),
    ("healthd", [280], 2, ["HealthDaemon", None], ["com.apple.healthkit:database", None],
     ["Inserted {n2} samples of type {w}", "Sync with {w} complete ({n2} changes)"]),
    ("CommCenterRootHelper", [87], 0.25, [None], ["com.apple.telephony:helper", None],
     ["Helper request {w} {n2}", "Restoring {w} state"]),
    ("wifianalyticsd", [290], 1, [None], ["com.apple.wifi.analytics:Default", None],
     ["Submitting {w} metric {n2}", "LQM sample rssi -{rssi}"]),
]

# Noise messages that mention a push-set name inside their text (the process itself is not in
# the push set). Used for a small share of noise records.
MENTIONS = {
    "mDNSResponder": ["[R{n}] getaddrinfo start -- flags: 0xC000D000, ifindex: 0, protocols: 0, hostname: <mask.hash: '{h}'>, options: 0x0 {{}}, client pid: 112 (apsd)",
                      "[R{n}] DNSServiceCreateConnection START PID[86](CommCenter)"],
    "UserEventAgent": ["posting notification com.apple.powerd.assertionpolicy for client {n2}",
                       "notify_register_dispatch com.apple.SpringBoard.lockstate from pid {n2}"],
    "identityservicesd": ["<APSConnection: {ptr}> apsd connection {w} for environment production, topic com.apple.madrid",
                          "Waiting for apsd to report the public token ({n2}s)"],
    "backboardd": ["Sending lock state to SpringBoard ({w})", "SpringBoard asked to {w} display {n2}"],
    "nsurlsessiond": ["Task <{uuid}>.<{n2}> request was deferred by dasd (budget {w})"],
    "locationd": ["{{\"msg\":\"kernel wake\", \"reason\":\"{w}\", \"count\":{n2}}}"],
    "WirelessRadioManagerd": ["CommCenter reported RAT change to {w}"],
    "assistantd": ["runningboardd assertion {w} for {uuid}"],
    "cloudd": ["Push received from apsd for container com.apple.{w} (topic com.apple.icloud-container.{w})"],
    "sharingd": ["wifid reported {w} on awdl0"],
}
MENTION_SHARE = 0.003  # scaled by 3 for the processes that have mentions; see the rg count

# Multi-line bodies (continuation lines carry no timestamp).
CONTINUATIONS = [
    ["{{", "    {w} = {n2};", "    {w} = \"{w}\";", "}}"],
    ["(", "    \"{w}\",", "    \"{w}\"", ")"],
    ["\t{w}: {n2}", "\t{w}: <private>"],
    ["    {w} {w} {w}", "    {w} {n}"],
]
MULTILINE_SHARE = 0.004

# PushKit logs inside the app's own process (docs/reference/ios-logs.md §3.7): the warning before
# the kill and the kill itself, as the app's uncaught-exception line. pushtrace keeps them from any process
# (the `process = "*"` rules' literals), so they are in the output of `--push-set`. A kill is
# rare: one record in 5000.
PUSHKIT = [
    ("PushKit", None, "Apps receving VoIP pushes must post an incoming call via CallKit in the same run loop as pushRegistry:didReceiveIncomingPushWithPayload:forType:[withCompletionHandler:] without delay"),
    ("CoreFoundation", None, "*** Terminating app due to uncaught exception 'NSInternalInconsistencyException', reason: 'Killing app because it never posted an incoming call to the system after receiving a PushKit VoIP push.'"),
    ("PushKit", None, "Killing app because it never posted an incoming call to the system after receiving a PushKit VoIP push."),
]
PUSHKIT_SHARE = 0.0002


def fill(r: random.Random, tmpl: str) -> str:
    bundle, app = r.choice(APPS)

    def sub(m: re.Match) -> str:
        key = m.group(1)
        if key == "n":
            return str(r.randint(1000, 999999))
        if key == "n2":
            return str(r.randint(1, 999))
        if key == "h":
            return hexs(r, 8)
        if key == "h4":
            return hexs(r, 4)
        if key == "hexs":
            return " ".join(hexs(r, 8) for _ in range(r.randint(1, 6)))
        if key == "rssi":
            return str(r.randint(35, 95))
        if key == "f":
            return f"{r.random() * 100:.3f}"
        if key == "w":
            return r.choice(WORDS)
        if key == "uuid":
            return uuid(r)
        if key == "ptr":
            return ptr(r)
        if key == "ip":
            return ip4(r)
        if key == "host":
            return r.choice(HOSTS)
        if key == "bundle":
            return bundle
        if key == "app":
            return app
        if key == "p":
            return str(r.randint(100, 9000))
        return m.group(0)

    out = re.sub(r"\{(\w+)\}", sub, tmpl)
    return out.replace("{{", "{").replace("}}", "}")


def body(proc: str, pid: int, sender, subsystem, msg: str) -> str:
    parts = [f"  localhost {proc}[{pid}]:"]
    if sender and sender != proc:
        parts.append(f"({sender})")
    if subsystem:
        parts.append(f"[{subsystem}]")
    parts.append(msg)
    return " ".join(parts)


def build_pool(r: random.Random, n_push: int, n_noise: int):
    """Returns (bodies, procs, nlines, mentions, pushkit) lists; the first n_push bodies are
    push-set ones."""
    bodies, procs, nlines, mention, pushkit = [], [], [], [], []
    FRAGMENTS[:] = make_fragments(r, 20_000)

    def add(b: str, proc: str, multiline: bool, ment: bool):
        if multiline:
            cont = r.choice(CONTINUATIONS)
            extra = [fill(r, c) for c in cont]
            b = b + "\n" + "\n".join(extra)
            nlines.append(1 + len(extra))
        else:
            nlines.append(1)
        bodies.append(b + "\n")
        procs.append(proc)
        mention.append(ment)
        pushkit.append(False)

    pw = [p[2] for p in PUSH_PROCS]
    for _ in range(n_push):
        proc, pids, _, gen = r.choices(PUSH_PROCS, weights=pw)[0]
        sender, subsystem, msg = gen(r)
        if r.random() < 0.15:  # subsystems are not always present in exports
            subsystem = None
        add(body(proc, r.choice(pids), sender, subsystem, msg), proc,
            r.random() < MULTILINE_SHARE, False)

    nw = [p[2] for p in NOISE_PROCS]
    for _ in range(n_noise):
        if r.random() < PUSHKIT_SHARE:
            _, app = r.choice(APPS)
            sender, subsystem, msg = r.choice(PUSHKIT)
            add(body(app, r.randint(300, 9000), sender, subsystem, msg), app, False, False)
            pushkit[-1] = True
            continue
        proc, pids, _, senders, subsystems, msgs = r.choices(NOISE_PROCS, weights=nw)[0]
        ment = proc in MENTIONS and r.random() < MENTION_SHARE * 3  # 1/3 of noise procs have mentions
        tmpl = r.choice(MENTIONS[proc] if ment else msgs)
        msg = fill(r, tmpl)
        if not ment:
            msg = pad_to(r, msg, noise_length(r))
        add(body(proc, r.choice(pids), r.choice(senders), r.choice(subsystems), msg), proc,
            r.random() < MULTILINE_SHARE, ment)
    return bodies, procs, nlines, mention, pushkit


def parse_size(s: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]?)B?", s.strip().upper())
    if not m:
        raise argparse.ArgumentTypeError(f"size {s!r}: expected a number with K, M or G (e.g. 100M, 2G)")
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2)]
    return int(float(m.group(1)) * mult)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=parse_size, default=parse_size("2G"), help="target size, e.g. 100M, 2G (binary units)")
    ap.add_argument("--out", required=True, help="output file")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1); same seed, same file")
    ap.add_argument("--push-share", type=float, default=0.05, help="share of push-set records (default 0.05)")
    ap.add_argument("--pool", type=int, default=200_000, help="distinct record bodies to draw from")
    args = ap.parse_args()

    t0 = time.monotonic()
    r = random.Random(args.seed)
    n_push = round(args.pool * args.push_share)
    bodies, procs, nlines, mention, pushkit = build_pool(r, n_push, args.pool - n_push)
    pool = len(bodies)
    t_pool = time.monotonic() - t0

    # Clock: integer microseconds since the epoch, local offset +03:00 (printed as +0300).
    tz = dt.timezone(dt.timedelta(hours=3))
    start = dt.datetime(2026, 5, 20, 14, 0, 0, tzinfo=tz)
    t = int(start.timestamp()) * 1_000_000 + r.randint(0, 999_999)
    offset_s = 3 * 3600
    suffix = "+0300"
    # Increments: many rows within the same millisecond, bursts and gaps; ~0.2 % go backwards.
    incs = [r.choice([0, 1, 3, 7, 15, 40, 90, 200, 450, 900, 1500, 3000, 8000]) for _ in range(4093)]
    for i in range(0, len(incs), 500):
        incs[i] = -r.randint(100, 900)
    n_incs = len(incs)

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    hits = [0] * pool
    written = 0
    records = 0
    batch = 32_768
    last_sec = -1
    prefix = ""
    inc_i = 0
    with open(args.out, "wb") as f:
        h = HEADER.encode()
        f.write(h)
        written += len(h)
        while written < args.size:
            remaining = args.size - written
            k = batch if remaining > 16 << 20 else max(64, min(batch, remaining // 400))
            idx = r.choices(range(pool), k=k)
            out = []
            append = out.append
            for i in idx:
                t += incs[inc_i]
                inc_i += 1
                if inc_i == n_incs:
                    inc_i = 0
                sec, us = divmod(t, 1_000_000)
                if sec != last_sec:
                    last_sec = sec
                    prefix = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(sec + offset_s))
                append(f"{prefix}.{us:06d}{suffix}{bodies[i]}")
                hits[i] += 1
            data = "".join(out).encode()
            f.write(data)
            written += len(data)
            records += k
    elapsed = time.monotonic() - t0

    lines = 1 + sum(h * n for h, n in zip(hits, nlines))
    push_records = sum(hits[:n_push])
    push_lines = sum(h * n for h, n in zip(hits[:n_push], nlines[:n_push]))
    mention_records = sum(h for h, m in zip(hits, mention) if m)
    pushkit_records = sum(h for h, k in zip(hits, pushkit) if k)
    per_proc: dict[str, int] = {}
    for h, p in zip(hits, procs):
        per_proc[p] = per_proc.get(p, 0) + h

    print(f"wrote {args.out}: {written:,} bytes, {lines:,} lines (incl. header), {records:,} records "
          f"in {elapsed:.1f}s (pool {t_pool:.1f}s, {written / elapsed / 1e6:.0f} MB/s)")
    print(f"push-set records: {push_records:,} = {100 * push_records / records:.2f}% of records; "
          f"push-set lines (with continuations): {push_lines:,} = {100 * push_lines / lines:.2f}% of lines; "
          f"noise records naming a push-set process in their text: {mention_records:,}; "
          f"PushKit records in app processes: {pushkit_records:,}")
    print("records per process: " + ", ".join(
        f"{p} {100 * c / records:.2f}%" for p, c in sorted(per_proc.items(), key=lambda kv: -kv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
