//! Forum digests: the hand-trimmed excerpts people paste into forum threads and bug reports.
//!
//! ```text
//! 17:46:01.330  apsd  [C138 IPv4#b71cac13:5223 ready parent-flow
//!                     (satisfied (Path is satisfied), interface: pdp_ip0[lte],
//!               ↑ APNs path re-satisfied. Reconnection begins.
//!                 channel-flow viable NOT yet reached — TLS handshake still in progress.
//!
//!               ── 2 minutes 40 seconds after APNs reconnect started ──
//! ```
//!
//! A row is `HH:MM:SS.mmm  process  message`; indented lines continue the row above (the paste
//! wrapped it) and are joined with a space, unless they follow a `↑` annotation, which with its
//! own indented lines is the author's commentary, not the device's. `──` rules and blank lines
//! separate. Rows carry neither date nor zone: `--date` and `--tz` supply them.

use std::borrow::Cow;

use pushtrace_model::{LogRecord, TimeOfDay, parse_time_prefix};

use super::timestamp::{micros_of_day, trim_start};
use super::{ChunkContext, ChunkOutput, DayClock, RefusedEnds, TextFormat, lines};
use crate::format::{Format, Requirements};
use crate::summary::SkipReason;

pub(crate) struct Digest;

const ARROW: &str = "↑";
const RULE: &str = "─";

/// A row: the time of day, the process and the first line of the message.
fn row(line: &[u8]) -> Option<(TimeOfDay, &[u8], &[u8])> {
    let (time, rest) = parse_time_prefix(line)?;
    if !matches!(rest.first(), Some(b' ' | b'\t')) {
        return None;
    }
    let rest = trim_start(rest);
    let end = memchr::memchr2(b' ', b'\t', rest)?;
    let process = &rest[..end];
    let message = trim_start(&rest[end..]);
    (!process.is_empty()).then_some((time, process, message))
}

fn is_note(trimmed: &[u8]) -> bool {
    trimmed.starts_with(ARROW.as_bytes())
}

fn is_rule(trimmed: &[u8]) -> bool {
    trimmed.starts_with(RULE.as_bytes())
}

impl TextFormat for Digest {
    fn format(&self) -> Format {
        Format::Digest
    }

    fn sniff(&self, line: &[u8]) -> bool {
        // Console copies print microseconds and usually a zone; digests trim to milliseconds.
        let fraction =
            line.get(8) == Some(&b'.') && line.get(12).is_some_and(|b| !b.is_ascii_digit());
        !line.contains(&b'\t') && fraction && row(line).is_some()
    }

    fn starts_record(&self, line: &[u8]) -> bool {
        line.len() >= 8
            && line[0].is_ascii_digit()
            && line[2] == b':'
            && parse_time_prefix(line).is_some()
    }

    fn requirements(&self, _sample: &[u8]) -> Requirements {
        Requirements {
            date: true,
            zone: true,
        }
    }

    fn raw_messages(&self) -> bool {
        false
    }

    fn parse_chunk(&self, chunk: &[u8], ctx: &ChunkContext<'_>, out: &mut ChunkOutput) {
        let mut clock = DayClock::default();
        let mut refused = RefusedEnds::default();
        let mut pending: Option<PendingRow<'_>> = None;
        // Inside an annotation, or the wrapped lines of a row the filter dropped.
        let mut in_note = false;
        for (number, line) in lines(chunk) {
            let trimmed = trim_start(line);
            if let Some((time, process, message)) =
                self.starts_record(line).then(|| row(line)).flatten()
            {
                flush(ctx, out, &mut clock, &mut refused, pending.take());
                let days = clock.observe(micros_of_day(time));
                let wanted = ctx.filter.wants_process(process);
                in_note = !wanted && !ctx.filter.has_anywhere();
                if in_note {
                    refused.note(out, line, days);
                } else {
                    pending = Some(PendingRow {
                        number,
                        line,
                        time,
                        process,
                        parts: vec![message],
                        days,
                        by_message: !wanted,
                    });
                }
            } else if trimmed.is_empty() || is_rule(trimmed) {
                in_note = false;
                out.ignored += 1;
            } else if is_note(trimmed) {
                flush(ctx, out, &mut clock, &mut refused, pending.take());
                in_note = true;
                out.ignored += 1;
            } else if trimmed.len() < line.len() && in_note {
                out.ignored += 1;
            } else if trimmed.len() < line.len()
                && let Some(row) = pending.as_mut()
            {
                row.parts.push(trimmed);
            } else {
                flush(ctx, out, &mut clock, &mut refused, pending.take());
                out.skip(number, SkipReason::Malformed, line);
            }
        }
        flush(ctx, out, &mut clock, &mut refused, pending.take());
        out.day_clock = Some(clock);
        refused.finish(out, |line| {
            let (time, _, _) = row(line)?;
            Some(ctx.clock.time_of_day(time, None).ok()?.utc_micros())
        });
    }
}

/// A row whose wrapped lines may still follow.
struct PendingRow<'c> {
    number: u64,
    line: &'c [u8],
    time: TimeOfDay,
    process: &'c [u8],
    parts: Vec<&'c [u8]>,
    days: u32,
    /// Its process is refused: it is read only if its joined message holds an anywhere literal
    /// (a wrap may cut a literal, so the raw lines are not searched).
    by_message: bool,
}

fn flush<'c>(
    ctx: &ChunkContext<'_>,
    out: &mut ChunkOutput,
    clock: &mut DayClock,
    refused: &mut RefusedEnds<'c>,
    row: Option<PendingRow<'c>>,
) {
    let Some(row) = row else { return };
    if row.by_message {
        let joined = join(&row.parts, |part| String::from_utf8_lossy(part));
        if !ctx.filter.wants_anywhere(joined.as_bytes()) {
            return refused.note(out, row.line, row.days);
        }
    }
    let at = match ctx.clock.time_of_day(row.time, None) {
        Ok(at) => at,
        Err(_) => return out.skip(row.number, SkipReason::BadTimestamp, row.line),
    };
    let message = join(&row.parts, |part| out.text(part));
    let process = out.text(row.process).into_owned();
    if out.keep(
        ctx,
        LogRecord::new(at, process, message, ctx.origin(row.number)),
    ) {
        clock.days.push(row.days);
    }
}

/// A row's message: its lines trimmed and joined with a space, as the paste wrapped them.
fn join<'p>(parts: &[&'p [u8]], mut text: impl FnMut(&'p [u8]) -> Cow<'p, str>) -> String {
    let mut message = String::new();
    for part in parts {
        let part = text(part);
        if !message.is_empty() {
            message.push(' ');
        }
        message.push_str(part.trim());
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::RecordFilter;
    use crate::text::testing::{KILLED, apsd_and_anywhere, clock, kept, parse, parse_with};

    const SEED: &str = include_str!("../../../../testdata/seed-incident-digest.txt");

    #[test]
    fn anywhere_literals_keep_an_unknown_process_even_when_a_wrap_cuts_them() {
        // The paste wrapped the kill at a space inside the literal; the joined message holds
        // it whole.
        let (head, tail) = KILLED.split_at(KILLED.find(" incoming").unwrap());
        let text = format!(
            "17:48:41.248  apsd    wanted\n\
             17:48:41.249  Comera  {head}\n\
             \x20                     {tail}\n\
             17:48:41.250  Comera  Reporting an incoming call to CallKit\n\
             \x20                     wrapped\n"
        );
        let filter = apsd_and_anywhere();
        let out = parse_with(&Digest, &text, clock("2026-05-20", "+03:00"), &filter);
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        let joined = format!("{} {}", head.trim(), tail.trim());
        assert_eq!(
            kept(&out),
            [("apsd", "wanted"), ("Comera", joined.as_str())]
        );
        assert_eq!((out.parsed, out.filtered, out.ignored), (3, 1, 0));
        let apsd = RecordFilter::new().processes(["apsd"]);
        let out = parse_with(&Digest, &text, clock("2026-05-20", "+03:00"), &apsd);
        assert_eq!(kept(&out), [("apsd", "wanted")]);
        assert_eq!(out.ignored, 2, "the wrapped lines of dropped rows");
    }

    #[test]
    fn seed_digest_reads_its_twelve_rows() {
        let out = parse(&Digest, SEED, clock("2026-05-20", "+03:00"));
        assert!(out.skips.is_empty(), "{:?}", out.skips);
        let rows: Vec<_> = out
            .records
            .iter()
            .map(|r| (r.at.time_of_day_millis(), r.process.as_str()))
            .collect();
        assert_eq!(
            rows,
            [
                ("17:45:59.562".to_string(), "symptomsd"),
                ("17:46:01.206".into(), "CommCenter"),
                ("17:46:01.330".into(), "apsd"),
                ("17:48:08.057".into(), "apsd"),
                ("17:48:41.248".into(), "powerd"),
                ("17:48:41.250".into(), "apsd"),
                ("17:48:41.250".into(), "powerd"),
                ("17:48:41.250".into(), "powerd"),
                ("17:48:42.669".into(), "kernel"),
                ("17:50:04.028".into(), "powerd"),
                ("17:50:04.494".into(), "powerd"),
                ("17:50:04.598".into(), "apsd"),
            ]
        );
        let r = &out.records;
        assert_eq!(
            r[2].message,
            "[C138 IPv4#b71cac13:5223 ready parent-flow (satisfied (Path is satisfied), interface: pdp_ip0[lte], \
             scoped, ipv4, ipv6, dns, expensive, uses cell, LQM: good)] event: path:satisfied_change @594.391s"
        );
        assert_eq!(
            r[8].message,
            "necp_process_defunct_list: necp_update_client abort nexus error (2) for pid 1518 Comera"
        );
        assert_eq!(
            r[9].message,
            "Process CommCenter.104 Created SystemIsActive \"com.apple.ipTelephony.sipIncoming.cell\""
        );
        assert_eq!(r[0].at.to_string(), "2026-05-20T17:45:59.562000+03:00");
        assert_eq!(r[0].origin.to_string(), "test.log:1");
        assert!(out.day_clock.unwrap().crossings == 0);
    }

    #[test]
    fn prose_lines_are_skipped_not_joined() {
        let text = "17:48:41.248  powerd  Sending com.apple.powerd.assertionpolicy 3\n\
Gap between channel-flow viable needed and actual delivery: 4 minutes 3 seconds.\n\
19:2x:xx  apsd  policy state {downgradeWhenLocked: NO,\n";
        let out = parse(&Digest, text, clock("2026-05-20", "+03:00"));
        assert_eq!(out.records.len(), 1);
        assert_eq!(
            out.records[0].message,
            "Sending com.apple.powerd.assertionpolicy 3"
        );
        assert_eq!(out.skips.iter().map(|s| s.line).collect::<Vec<_>>(), [2, 3]);
    }

    #[test]
    fn midnight_crossing_is_counted() {
        let text = "23:59:59.900  apsd  before\n00:00:00.100  apsd  after\n";
        let out = parse(&Digest, text, clock("2026-05-20", "+03:00"));
        assert_eq!(out.day_clock.as_ref().unwrap().days, [0, 1]);
    }

    #[test]
    fn sniff_tells_digests_from_console_copies() {
        assert!(Digest.sniff(b"17:48:41.248  powerd  Sending com.apple.powerd.assertionpolicy 3"));
        assert!(!Digest.sniff(b"18:29:14.281522+0200\trunningboardd\tAcquiring assertion"));
        assert!(!Digest.sniff(b"              \xe2\x86\x91 Radio drops to RRC_Idle."));
    }
}
