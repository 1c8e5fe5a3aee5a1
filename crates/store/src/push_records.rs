//! Attempts and receipts as `PushRecord`s (`docs/formats.md`), both ways.
//!
//! Export reads the raw columns (not [`Attempt`](crate::Attempt)) because an imported push may
//! not know its token, topic, push type, priority or expiration, and unknown must come back
//! out as absent, not as `""` or `0`. Import keeps the record's deadline on the attempt since
//! its call lives on another server.

use std::collections::BTreeMap;

use pushtrace_model::{PushRecord, Receipt, Timestamp};

/// One attempt's columns for export, joined with its receipt and its call's deadline.
#[derive(Clone, Debug)]
pub(crate) struct ExportRow {
    pub push_id: String,
    pub call_id: Option<String>,
    pub token: Option<String>,
    pub topic: Option<String>,
    pub push_type: Option<String>,
    pub priority: Option<u8>,
    pub expiration: Option<u64>,
    pub queued_at: Timestamp,
    pub sent_at: Option<Timestamp>,
    pub responded_at: Option<Timestamp>,
    pub apns_status: Option<u16>,
    pub apns_reason: Option<String>,
    pub apns_id: Option<String>,
    pub apns_unique_id: Option<String>,
    pub apns_timestamp: Option<Timestamp>,
    pub attrs: BTreeMap<String, String>,
    /// The call's deadline, else the imported one.
    pub deadline: Option<Timestamp>,
    /// The receipt's server-clock arrival, when there is a receipt.
    pub receipt_received_at: Option<Timestamp>,
    pub device_received_at: Option<Timestamp>,
    pub reported_at: Option<Timestamp>,
    pub must_report: Option<bool>,
}

impl ExportRow {
    pub(crate) fn into_record(self) -> PushRecord {
        let mut record = PushRecord::new(self.sent_at.unwrap_or(self.queued_at));
        record.push_id = Some(self.push_id);
        record.call_id = self.call_id;
        record.device = self.token;
        record.topic = self.topic;
        record.push_type = self.push_type;
        record.priority = self.priority;
        record.expiration = self.expiration;
        // Queued when sent is no time lost before APNs: said by leaving it out (an imported
        // record without queued_at is stored queued at its send).
        record.queued_at = self
            .sent_at
            .is_none_or(|sent| sent != self.queued_at)
            .then_some(self.queued_at);
        record.apns_status = self.apns_status;
        record.apns_reason = self.apns_reason;
        record.apns_id = self.apns_id;
        record.apns_unique_id = self.apns_unique_id;
        record.apns_timestamp = self.apns_timestamp;
        record.responded_at = self.responded_at;
        record.received_at = self.device_received_at.or(self.receipt_received_at);
        record.reported_at = self.reported_at;
        record.must_report = self.must_report;
        record.deadline = self.deadline;
        record.attrs = self.attrs;
        record
    }
}

/// One record to import, as columns (absent stays NULL).
#[derive(Clone, Debug)]
pub(crate) struct ImportRow {
    pub push_id: String,
    pub call_id: Option<String>,
    pub app: String,
    pub token: Option<String>,
    pub topic: Option<String>,
    pub push_type: Option<String>,
    pub priority: Option<u8>,
    pub expiration: Option<u64>,
    /// When the sender took the work; the send time when the record does not say.
    pub queued_at: Timestamp,
    pub sent_at: Timestamp,
    pub responded_at: Option<Timestamp>,
    pub apns_status: Option<u16>,
    pub apns_reason: Option<String>,
    pub apns_id: Option<String>,
    pub apns_unique_id: Option<String>,
    pub apns_timestamp: Option<Timestamp>,
    pub attrs: BTreeMap<String, String>,
    pub deadline: Option<Timestamp>,
    /// Present when the record says the app received the push.
    pub receipt: Option<Receipt>,
}

impl ImportRow {
    /// The row for the `index`th record of an import into `app`.
    pub(crate) fn new(app: &str, index: usize, record: &PushRecord) -> ImportRow {
        let push_id = record
            .push_id
            .clone()
            .unwrap_or_else(|| format!("import-{index}-{:016x}", fingerprint(record)));
        // An imported receipt knows one clock only: the record's received_at is the device's
        // (`docs/formats.md`), and it also stands for the server's since nothing else is known.
        let receipt = record.received_at.map(|received| Receipt {
            push_id: push_id.clone(),
            call_id: record.call_id.clone(),
            received_at: received,
            device_received_at: Some(received),
            reported_at: record.reported_at,
            must_report: record.must_report,
            app_state: None,
            network: None,
            late: record.deadline.is_some_and(|deadline| received > deadline),
        });
        ImportRow {
            push_id,
            call_id: record.call_id.clone(),
            app: app.to_string(),
            token: record.device.clone(),
            topic: record.topic.clone(),
            push_type: record.push_type.clone(),
            priority: record.priority,
            expiration: record.expiration,
            queued_at: record.queued_at.unwrap_or(record.sent_at),
            sent_at: record.sent_at,
            responded_at: record.responded_at,
            apns_status: record.apns_status,
            apns_reason: record.apns_reason.clone(),
            apns_id: record.apns_id.clone(),
            apns_unique_id: record.apns_unique_id.clone(),
            apns_timestamp: record.apns_timestamp,
            attrs: record.attrs.clone(),
            deadline: record.deadline,
            receipt,
        }
    }
}

/// FNV-1a over the record's JSON: the same record imported twice gets the same generated
/// push_id, so a second import of one file skips instead of duplicating.
fn fingerprint(record: &PushRecord) -> u64 {
    let text = serde_json::to_string(record).unwrap_or_default();
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_push_ids_are_stable_and_distinct() {
        let at = Timestamp::parse("2026-05-20T10:00:00Z").unwrap();
        let a = PushRecord::new(at);
        let mut b = PushRecord::new(at);
        b.device = Some("ab".into());
        let id = |i, r: &PushRecord| ImportRow::new("app", i, r).push_id;
        assert_eq!(id(0, &a), id(0, &a));
        assert_ne!(id(0, &a), id(0, &b));
        assert!(id(3, &a).starts_with("import-3-"));
    }

    #[test]
    fn receipt_is_late_after_the_deadline() {
        let t = |s| Timestamp::parse(s).unwrap();
        let mut record = PushRecord::new(t("2026-05-20T10:00:00Z"));
        record.received_at = Some(t("2026-05-20T10:01:30Z"));
        record.deadline = Some(t("2026-05-20T10:01:00Z"));
        let receipt = ImportRow::new("app", 0, &record).receipt.unwrap();
        assert!(receipt.late);
        assert_eq!(receipt.device_received_at, record.received_at);
    }
}
