//! Step 2: when the push reached the device, and how sure it is that it was this push.
//!
//! A *delivery* is what one push leaves in the log: apsd's `Received message for enabled topic
//! …` and, within a moment, callservicesd's `Received incoming APS message from application with
//! bundle identifier …`, then the launch lines (callservicesd, SpringBoard, runningboardd) that
//! name the app. A delivery is the push's arrival when what it names is the push's topic or app;
//! one naming another app never is; one whose every name is redacted (`<private>`) may be, but
//! the attribution is then inferred and the verdict says so. Each delivery is given to at most
//! one push ([`Claims`]), pushes taken in the order they were sent.
//!
//! The app's receipt (`received_at`, on the device's clock) is the arrival when the record has
//! one; a delivery just before it is cited as its line.

use std::collections::BTreeSet;
use std::time::Duration;

use pushtrace_devicelog::timeline::{ApnsState, DeviceTimeline, Dimension, State};
use pushtrace_model::duration::{after, before};
use pushtrace_model::{DeviceEvent, EventKind, PushRecord, Timestamp};

use super::Context;
use super::delivered::APP_WINDOW;
use super::window::expected_by;

/// How far apart apsd's line, callservicesd's and the launch lines of one delivery can be.
const FOLLOW_ON: Duration = Duration::from_secs(2);
/// How much earlier than the send a delivery line may be stamped (the device's clock behind the
/// server's: seconds are common).
const CLOCK_SKEW: Duration = Duration::from_secs(3);
/// How long before the app's receipt its delivery lines may be.
const BEFORE_RECEIPT: Duration = Duration::from_secs(10);
/// How long before APNs's answer reached the server a delivery may be (the answer travels back
/// while the push travels on).
const BEFORE_ANSWER: Duration = Duration::from_secs(5);
/// How much earlier than the log's CallKit report of a delivery the receipt's `reported_at` may
/// be and still be that report: an app takes its time stamp around its call to CallKit, which
/// logs the call within milliseconds.
const REPORT_STAMP: Duration = Duration::from_millis(100);
/// How long after its `apns-expiration` (after its send, for `0`) a push may still arrive.
/// Apple: expiry is best effort, a push "can arrive after the timestamp" and with `0` "with
/// some delay", because one attempt may go over several connections of the device
/// (docs/reference/apns.md §4.1). The founding incident's `0` push arrived 3 min late, written
/// to a connection that had died; a server notices a dead TCP peer within about 15 min (Linux's
/// default retransmission limit). Past twice that, a delivery is another push's: APNs stores
/// nothing past the expiry, so linking a line hours later to this push would be a false
/// "delivered late".
pub(crate) const AFTER_EXPIRY: Duration = Duration::from_secs(30 * 60);

/// How the arrival was tied to the push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attribution {
    /// The app's receipt says so.
    Receipt,
    /// A delivery line names the push's topic or app.
    Named,
    /// Every line of the delivery is redacted: it may be another app's push.
    Inferred,
}

/// The push's arrival.
#[derive(Debug)]
pub(crate) struct Arrival<'a> {
    pub at: Timestamp,
    /// The delivery's lines (apsd, callservicesd, launch), when the log has them.
    pub lines: Vec<&'a DeviceEvent>,
    pub attribution: Attribution,
}

/// The deliveries already given to a push, by their first event's index.
#[derive(Debug, Default)]
pub(crate) struct Claims(BTreeSet<usize>);

/// One push's trace in the log.
#[derive(Debug)]
pub(crate) struct Delivery {
    /// Indices into the timeline's events, the first being the arrival line.
    pub events: Vec<usize>,
    /// Topics and bundle ids (lower case) the lines name; empty when all are redacted.
    pub topics: BTreeSet<String>,
    pub bundles: BTreeSet<String>,
}

/// Every delivery in the log, in time order.
pub(crate) fn deliveries(timeline: &DeviceTimeline) -> Vec<Delivery> {
    let mut found: Vec<Delivery> = Vec::new();
    let mut open: Option<(usize, Timestamp, bool)> = None; // (delivery, last line, has callservicesd)
    for (i, event) in timeline.events.iter().enumerate() {
        let fresh = |open: &Option<(usize, Timestamp, bool)>| {
            open.filter(|(_, last, _)| event.at <= after(*last, FOLLOW_ON))
        };
        match &event.kind {
            // A push apsd received for an ignored, removed or unknown topic never went on to
            // the app: it is not a delivery (the outage step cites it).
            EventKind::PushReceived { filter, .. } if filter != "enabled" => {}
            EventKind::PushReceived { topic, .. } => {
                let mut d = Delivery {
                    events: vec![i],
                    topics: BTreeSet::new(),
                    bundles: BTreeSet::new(),
                };
                d.name_topic(topic.as_deref());
                found.push(d);
                open = Some((found.len() - 1, event.at, false));
            }
            EventKind::VoipPushToApp { topic, bundle } => {
                let joins = fresh(&open)
                    .filter(|(d, _, _)| found[*d].accepts(topic.as_deref(), bundle.as_deref()));
                let d = match joins {
                    Some((d, _, _)) => d,
                    None => {
                        found.push(Delivery {
                            events: Vec::new(),
                            topics: BTreeSet::new(),
                            bundles: BTreeSet::new(),
                        });
                        found.len() - 1
                    }
                };
                found[d].events.push(i);
                found[d].name_topic(topic.as_deref());
                found[d].name_bundle(bundle.as_deref());
                open = Some((d, event.at, true));
            }
            kind => {
                if let (Some((d, _, has)), Some(bundle)) = (fresh(&open), launched_bundle(kind)) {
                    found[d].events.push(i);
                    found[d].name_bundle(bundle);
                    open = Some((d, event.at, has));
                }
            }
        }
    }
    found
}

/// The bundle a launch line names, for the lines that follow a delivery.
fn launched_bundle(kind: &EventKind) -> Option<Option<&str>> {
    match kind {
        EventKind::AppLaunchForPush { bundle, .. } | EventKind::AppOpenRequested { bundle, .. } => {
            Some(bundle.as_deref())
        }
        EventKind::VoipProcessAssertion { target, .. } => Some(target.as_deref()),
        _ => None,
    }
}

impl Delivery {
    fn name_topic(&mut self, topic: Option<&str>) {
        if let Some(t) = topic.filter(|t| !t.is_empty()) {
            let t = t.to_ascii_lowercase();
            self.bundles
                .insert(t.strip_suffix(".voip").unwrap_or(&t).to_string());
            self.topics.insert(t);
        }
    }

    fn name_bundle(&mut self, bundle: Option<&str>) {
        if let Some(b) = bundle.filter(|b| !b.is_empty() && !b.contains("xxxx")) {
            self.bundles.insert(b.to_ascii_lowercase());
        }
    }

    /// Whether a callservicesd line naming `topic`/`bundle` can be the same delivery.
    fn accepts(&self, topic: Option<&str>, bundle: Option<&str>) -> bool {
        let topic_ok = topic.is_none_or(|t| {
            self.topics.is_empty() || self.topics.contains(&t.to_ascii_lowercase())
        });
        let bundle_ok = bundle.is_none_or(|b| {
            self.bundles.is_empty() || self.bundles.contains(&b.to_ascii_lowercase())
        });
        topic_ok && bundle_ok
    }

    /// Whether this delivery is the push's: `Some(Named)` when it names the push's topic or
    /// app, `Some(Inferred)` when it names nothing (or the push's app is not known), `None`
    /// when it names another app.
    fn is_for(&self, wanted: &Wanted) -> Option<Attribution> {
        if self.topics.is_empty() && self.bundles.is_empty() {
            return Some(Attribution::Inferred);
        }
        let named = match wanted {
            Wanted::Topic { topic, bundle } => {
                if self.topics.is_empty() {
                    self.bundles.contains(bundle)
                } else {
                    self.topics.contains(topic)
                }
            }
            Wanted::App(app) => {
                self.bundles.contains(app)
                    || self.topics.iter().any(|t| {
                        t.strip_prefix(app.as_str())
                            .is_some_and(|r| r.starts_with('.'))
                    })
            }
            Wanted::Any => return Some(Attribution::Inferred),
        };
        named.then_some(Attribution::Named)
    }
}

/// Whether another app's push reached the device between `from` and `to` (a kill in that
/// stretch may then be that app's).
pub(crate) fn other_app_between(
    cx: &Context<'_>,
    wanted: &Wanted,
    from: Timestamp,
    to: Timestamp,
) -> bool {
    cx.deliveries.iter().any(|d| {
        let at = cx.timeline.events[d.events[0]].at;
        at > from && at <= to && d.is_for(wanted).is_none()
    })
}

/// apsd's lines of the pushes that reached the device for another app (a delivery naming
/// another app whose first line is apsd's), in time order.
pub(crate) fn other_apps_pushes<'a, 'c>(
    cx: &'c Context<'a>,
    wanted: &'c Wanted,
) -> impl Iterator<Item = &'a DeviceEvent> + 'c {
    let timeline = cx.timeline;
    cx.deliveries
        .iter()
        .filter(move |d| d.is_for(wanted).is_none())
        .map(move |d| &timeline.events[d.events[0]])
        .filter(|e| matches!(e.kind, EventKind::PushReceived { .. }))
}

/// The first line after `from` of a delivery naming the push's topic or app, whoever claimed
/// it: a sentence that says nothing arrived must not hide it.
pub(crate) fn first_named_after<'a>(
    cx: &Context<'a>,
    push: &PushRecord,
    from: Timestamp,
) -> Option<&'a DeviceEvent> {
    let wanted = Wanted::of(push, cx.options.app.as_deref());
    cx.deliveries
        .iter()
        .filter(|d| d.is_for(&wanted) == Some(Attribution::Named))
        .map(|d| &cx.timeline.events[d.events[0]])
        .find(|line| line.at > from)
}

/// What a push's arrival must name.
pub(crate) enum Wanted {
    /// The record's apns-topic (lower case) and the bundle id it belongs to.
    Topic { topic: String, bundle: String },
    /// `--app`'s bundle id, for a record without a topic.
    App(String),
    /// Neither is known: any delivery may be it, none surely.
    Any,
}

impl Wanted {
    pub fn of(push: &PushRecord, app: Option<&str>) -> Wanted {
        match (push.topic.as_deref(), app) {
            (Some(topic), _) => {
                let topic = topic.to_ascii_lowercase();
                let bundle = topic.strip_suffix(".voip").unwrap_or(&topic).to_string();
                Wanted::Topic { topic, bundle }
            }
            (None, Some(app)) => Wanted::App(app.to_ascii_lowercase()),
            (None, None) => Wanted::Any,
        }
    }

    /// The app's bundle id, when known.
    pub fn bundle(&self) -> Option<&str> {
        match self {
            Wanted::Topic { bundle, .. } => Some(bundle),
            Wanted::App(app) => Some(app),
            Wanted::Any => None,
        }
    }
}

/// Which deliveries a push may claim in a phase of [`super::diagnose_all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The app's receipt says when; a delivery just before it is its line.
    Receipt,
    /// A delivery by the push's deadline.
    InTime,
    /// A delivery after the deadline (pushes taken newest first: APNs stores one push per app
    /// and device, so after an outage the newest is the one delivered).
    Late,
}

/// Finds the push's arrival in `phase` and claims its delivery.
pub(crate) fn find<'a>(
    cx: &Context<'a>,
    push: &PushRecord,
    phase: Phase,
    claims: &mut Claims,
) -> Option<Arrival<'a>> {
    let timeline = cx.timeline;
    let wanted = Wanted::of(push, cx.options.app.as_deref());
    // A delivery long before APNs answered is not this push's: APNs delivers what it has taken.
    let answered = push
        .responded_at
        .filter(|_| push.apns_status == Some(200))
        .map(|r| before(r, BEFORE_ANSWER));
    let earliest = answered.map_or(before(push.sent_at, CLOCK_SKEW), |a| {
        a.max(before(push.sent_at, CLOCK_SKEW))
    });
    // The app's receipt outranks the expiry: what it got, it got.
    let latest = (phase != Phase::Receipt)
        .then(|| expires_at(push))
        .flatten()
        .map(|t| after(t, AFTER_EXPIRY));
    let at = |d: &Delivery| timeline.events[d.events[0]].at;
    let candidates: Vec<(&Delivery, Attribution)> = cx
        .deliveries
        .iter()
        .filter(|d| at(d) >= earliest && latest.is_none_or(|l| at(d) <= l))
        .filter(|d| !claims.0.contains(&d.events[0]))
        .filter_map(|d| d.is_for(&wanted).map(|a| (d, a)))
        .collect();
    let lines = |d: &Delivery| -> Vec<&'a DeviceEvent> {
        d.events.iter().map(|&i| &timeline.events[i]).collect()
    };

    if phase == Phase::Receipt {
        let received = push.received_at?;
        let near = candidates
            .iter()
            .filter(|(d, _)| {
                at(d) >= before(received, BEFORE_RECEIPT)
                    && at(d) <= after(received, FOLLOW_ON)
                    && receipt_fits(cx, push, &wanted, d)
            })
            .min_by_key(|(d, a)| {
                (
                    *a != Attribution::Named,
                    (at(d).utc_micros() - received.utc_micros()).abs(),
                )
            });
        let lines = near.map_or_else(Vec::new, |(d, _)| {
            claims.0.insert(d.events[0]);
            lines(d)
        });
        return Some(Arrival {
            at: received,
            lines,
            attribution: Attribution::Receipt,
        });
    }

    let due = expected_by(push, cx.options);
    let first = |attribution: Attribution| {
        candidates.iter().find(|(d, a)| {
            *a == attribution
                && match phase {
                    Phase::InTime => at(d) <= due,
                    _ => at(d) > due,
                }
        })
    };
    // A line after the deadline is a late arrival only when the log was there at the deadline:
    // a log that begins later may have missed an arrival in time.
    if phase == Phase::Late && cx.timeline.start.is_none_or(|start| start > due) {
        return None;
    }
    let (delivery, attribution) =
        first(Attribution::Named).or_else(|| first(Attribution::Inferred))?;
    claims.0.insert(delivery.events[0]);
    Some(Arrival {
        at: at(delivery),
        lines: lines(delivery),
        attribution: *attribution,
    })
}

/// When APNs stops trying to deliver the push: its `apns-expiration`, or its send for `0` (one
/// attempt, nothing stored); `None` when the record does not say (APNs's own storage policy).
pub(crate) fn expires_at(push: &PushRecord) -> Option<Timestamp> {
    match push.expiration? {
        0 => Some(push.sent_at),
        _ => push.expiration_date(),
    }
}

/// Whether the log shows the device's APNs connection down (or still coming back) at the
/// push's send.
pub(crate) fn sent_while_down(cx: &Context<'_>, push: &PushRecord) -> bool {
    matches!(
        cx.timeline.state_at(Dimension::Apns, push.sent_at).state,
        State::Apns(ApnsState::Down(_) | ApnsState::Reconnecting { .. })
    )
}

/// Whether a receipt's delivery is in the log: the push's device is then the log's device.
pub(crate) fn receipt_in_log(cx: &Context<'_>, push: &PushRecord) -> bool {
    let Some(received) = push.received_at else {
        return false;
    };
    let wanted = Wanted::of(push, cx.options.app.as_deref());
    cx.deliveries.iter().any(|d| {
        let at = cx.timeline.events[d.events[0]].at;
        at >= before(received, BEFORE_RECEIPT)
            && at <= after(received, FOLLOW_ON)
            && d.is_for(&wanted) == Some(Attribution::Named)
            && receipt_fits(cx, push, &wanted, d)
    })
}

/// Whether the app's receipt can be this delivery's. The receipt is on the clock of the device
/// whose app posted it, and so is the log when it is that device's: the app then reported the
/// call at the log's own CallKit report of the delivery, not before it. A receipt saying the
/// call was reported well before that line is another device's — one call rung on several of
/// the user's devices at once arrives on each within the same second.
fn receipt_fits(cx: &Context<'_>, push: &PushRecord, wanted: &Wanted, d: &Delivery) -> bool {
    if push.reported_at.is_none() {
        return true;
    }
    let arrived = cx.timeline.events[d.events[0]].at;
    let report_line = cx.timeline.events.iter().find(|e| {
        e.at >= arrived
            && e.at <= after(arrived, APP_WINDOW)
            && matches!(&e.kind, EventKind::CallReported { bundle, .. }
                if may_name_app(bundle.as_deref(), wanted.bundle()))
    });
    report_line.is_none_or(|line| report_fits_receipt(push, line))
}

/// Whether a line naming the bundle `named` (if it names one) can be about the app `bundle`.
pub(crate) fn may_name_app(named: Option<&str>, bundle: Option<&str>) -> bool {
    named.is_none_or(|n| bundle.is_none_or(|b| n.eq_ignore_ascii_case(b)))
}

/// Whether a CallKit report line can be the one the push's receipt speaks of: not when the
/// receipt says the app reported the call well before it (see [`receipt_fits`]).
pub(crate) fn report_fits_receipt(push: &PushRecord, line: &DeviceEvent) -> bool {
    push.reported_at
        .is_none_or(|reported| reported >= before(line.at, REPORT_STAMP))
}
