//! Request checks with APNs's exact reasons (docs/reference/apns.md §1.2, §1.3, §6 item 3). Pure
//! functions: the `policy` module calls them in this order, with the JWT check between the request
//! line and the headers.
//!
//! | order | check | reason |
//! |---|---|---|
//! | 1 | a header field repeated | 400 `DuplicateHeaders` |
//! | 2 | `:method` is not `POST` | 405 `MethodNotAllowed` |
//! | 3 | `:path` is `/3/device/` or `/3/device` | 400 `MissingDeviceToken` |
//! | 3 | any other `:path` not under `/3/device/` (or with a further `/`) | 404 `BadPath` |
//! | 4 | `authorization` (in `policy`, with [`pushtrace_apns::KeyRing`]) | 403 / 429 |
//! | 5 | `apns-id` not a lowercase canonical UUID | 400 `BadMessageId` |
//! | 6 | `apns-push-type` not a documented type | 400 `InvalidPushType` |
//! | 7 | `apns-priority` not 10, 5 or 1 | 400 `BadPriority` |
//! | 8 | `apns-expiration` not epoch seconds | 400 `BadExpirationDate` |
//! | 9 | [`NotificationBuilder::build`]: token hex, topic present, topic form and `voip` ⇔ `<bundle>.voip`, priority allowed for the type, collapse id ≤ 64 bytes, payload present, ≤ 4096 / 5120 (VoIP) bytes | `BadDeviceToken`, `MissingTopic`, `BadTopic`, `BadPriority`, `BadCollapseId`, `PayloadEmpty`, 413 `PayloadTooLarge` |
//!
//! Apple names no reason for a topic that breaks its push type's suffix rule, nor for
//! `background` with priority 10; the emulator answers `BadTopic` and `BadPriority`.
//! When `apns-push-type` is omitted (allowed outside watchOS), the type whose topic suffix
//! matches the topic is assumed (`.voip` → `voip`), else `alert`.

use http::HeaderMap;
use pushtrace_apns::{ApnsId, BuildError, Expiration, Notification, Priority, PushType, Reason};

/// The `:path` prefix of a push.
const PATH_PREFIX: &str = "/3/device/";

/// A repeated header field (step 1).
pub(crate) fn check_duplicates(headers: &HeaderMap) -> Result<(), Reason> {
    if headers
        .keys()
        .any(|name| headers.get_all(name).iter().nth(1).is_some())
    {
        return Err(Reason::DuplicateHeaders);
    }
    Ok(())
}

/// `:method` and `:path` (steps 2–3); answers the raw token text from the path.
pub(crate) fn check_request_line<'a>(method: &str, path: &'a str) -> Result<&'a str, Reason> {
    if method != "POST" {
        return Err(Reason::MethodNotAllowed);
    }
    if path == "/3/device" || path == PATH_PREFIX {
        return Err(Reason::MissingDeviceToken);
    }
    match path.strip_prefix(PATH_PREFIX) {
        Some(token) if !token.contains(['/', '?', '#']) => Ok(token),
        _ => Err(Reason::BadPath),
    }
}

/// The `apns-id` the request carries, if it carries a valid one (step 5).
pub(crate) fn request_apns_id(headers: &HeaderMap) -> Option<Result<ApnsId, Reason>> {
    headers.get("apns-id").map(|value| {
        value
            .to_str()
            .ok()
            .and_then(|text| ApnsId::parse(text).ok())
            .ok_or(Reason::BadMessageId)
    })
}

fn text<'h>(headers: &'h HeaderMap, name: &str, bad: Reason) -> Result<Option<&'h str>, Reason> {
    headers
        .get(name)
        .map(|v| v.to_str().map_err(|_| bad))
        .transpose()
}

/// A request that passed every check: the push as the builder normalised it.
#[derive(Debug, Clone)]
pub(crate) struct ValidPush {
    pub(crate) notification: Notification,
    /// `apns-push-type` as sent (`None` when omitted).
    pub(crate) push_type_header: Option<PushType>,
}

/// Steps 6–9, after the JWT check. `payload` is the body (cut short at a cap far above any
/// limit when the client sent more, which still makes it too large).
pub(crate) fn check_push(
    headers: &HeaderMap,
    token: &str,
    payload: &[u8],
) -> Result<ValidPush, Reason> {
    let push_type_header = text(headers, "apns-push-type", Reason::InvalidPushType)?
        .map(|t| PushType::from_header_value(t).ok_or(Reason::InvalidPushType))
        .transpose()?;
    let priority = text(headers, "apns-priority", Reason::BadPriority)?
        .map(|t| Priority::parse(t).ok_or(Reason::BadPriority))
        .transpose()?;
    let expiration = match text(headers, "apns-expiration", Reason::BadExpirationDate)? {
        None => Expiration::None,
        Some(t) if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => {
            match t.parse::<u64>().map_err(|_| Reason::BadExpirationDate)? {
                0 => Expiration::Immediately,
                at => Expiration::At(at),
            }
        }
        Some(_) => return Err(Reason::BadExpirationDate),
    };
    let topic = text(headers, "apns-topic", Reason::BadTopic)?;
    let collapse_id = text(headers, "apns-collapse-id", Reason::BadCollapseId)?;

    let push_type = push_type_header.unwrap_or_else(|| infer_push_type(topic));
    let mut builder = Notification::builder(push_type)
        .device_token(token)
        .expiration(expiration)
        .payload(payload.to_vec());
    if let Some(topic) = topic {
        builder = builder.topic(topic);
    }
    if let Some(priority) = priority {
        builder = builder.priority(priority);
    }
    if let Some(collapse_id) = collapse_id {
        builder = builder.collapse_id(collapse_id);
    }
    // `build(0)`: an expiration in the past is accepted by APNs ("already expired").
    let notification = builder.build(0).map_err(|e| build_reason(&e))?;
    Ok(ValidPush {
        notification,
        push_type_header,
    })
}

/// The push type APNs would assume for a request without `apns-push-type`.
fn infer_push_type(topic: Option<&str>) -> PushType {
    let topic = topic.unwrap_or_default();
    PushType::ALL
        .into_iter()
        .filter_map(|t| t.topic_suffix().map(|s| (t, s)))
        .filter(|(_, suffix)| topic.ends_with(suffix))
        .max_by_key(|(_, suffix)| suffix.len())
        .map_or(PushType::Alert, |(t, _)| t)
}

/// The reason for a builder error; the two rules Apple names no reason for get the reason of the
/// header they are about.
fn build_reason(error: &BuildError) -> Reason {
    error.reason().unwrap_or(match error {
        BuildError::PriorityNotAllowed { .. } => Reason::BadPriority,
        BuildError::ExpirationInPast { .. } => Reason::BadExpirationDate,
        _ => Reason::BadTopic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const TOKEN: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn voip(extra: &[(&'static str, &str)]) -> HeaderMap {
        let mut pairs = vec![
            ("apns-push-type", "voip"),
            ("apns-topic", "com.acme.call.voip"),
        ];
        pairs.extend_from_slice(extra);
        headers(&pairs)
    }

    #[test]
    fn request_line() {
        assert_eq!(
            check_request_line("GET", "/3/device/aa"),
            Err(Reason::MethodNotAllowed)
        );
        assert_eq!(
            check_request_line("POST", "/3/device/"),
            Err(Reason::MissingDeviceToken)
        );
        assert_eq!(
            check_request_line("POST", "/3/device"),
            Err(Reason::MissingDeviceToken)
        );
        assert_eq!(
            check_request_line("POST", "/4/device/aa"),
            Err(Reason::BadPath)
        );
        assert_eq!(
            check_request_line("POST", "/3/device/aa/b"),
            Err(Reason::BadPath)
        );
        assert_eq!(check_request_line("POST", "/3/device/aa"), Ok("aa"));
    }

    #[test]
    fn duplicates() {
        let map = headers(&[("apns-topic", "a"), ("apns-topic", "a")]);
        assert_eq!(check_duplicates(&map), Err(Reason::DuplicateHeaders));
        assert_eq!(check_duplicates(&voip(&[])), Ok(()));
    }

    #[test]
    fn header_reasons() {
        let body = b"{}";
        let cases: &[(&[(&'static str, &str)], Reason)] = &[
            (&[("apns-priority", "7")], Reason::BadPriority),
            (&[("apns-expiration", "soon")], Reason::BadExpirationDate),
            (&[("apns-expiration", "-1")], Reason::BadExpirationDate),
            (
                &[("apns-collapse-id", &"x".repeat(65))],
                Reason::BadCollapseId,
            ),
        ];
        for (extra, reason) in cases {
            let err = check_push(&voip(extra), TOKEN, body).unwrap_err();
            assert_eq!(err, *reason, "{extra:?}");
        }
        let bad_type = headers(&[("apns-push-type", "call"), ("apns-topic", "a.voip")]);
        assert_eq!(
            check_push(&bad_type, TOKEN, body).unwrap_err(),
            Reason::InvalidPushType
        );
        let no_topic = headers(&[("apns-push-type", "voip")]);
        assert_eq!(
            check_push(&no_topic, TOKEN, body).unwrap_err(),
            Reason::MissingTopic
        );
        let wrong_topic = headers(&[("apns-push-type", "voip"), ("apns-topic", "com.acme")]);
        assert_eq!(
            check_push(&wrong_topic, TOKEN, body).unwrap_err(),
            Reason::BadTopic
        );
        let bg10 = headers(&[
            ("apns-push-type", "background"),
            ("apns-topic", "com.acme"),
            ("apns-priority", "10"),
        ]);
        assert_eq!(
            check_push(&bg10, TOKEN, body).unwrap_err(),
            Reason::BadPriority
        );
        assert_eq!(
            check_push(&voip(&[]), "zz", body).unwrap_err(),
            Reason::BadDeviceToken
        );
        assert_eq!(
            check_push(&voip(&[]), TOKEN, b"").unwrap_err(),
            Reason::PayloadEmpty
        );
        assert_eq!(
            check_push(&voip(&[]), TOKEN, &[b' '; 5121]).unwrap_err(),
            Reason::PayloadTooLarge
        );
        assert!(check_push(&voip(&[]), TOKEN, &[b' '; 5120]).is_ok());
    }

    #[test]
    fn omitted_push_type_is_inferred_from_the_topic() {
        assert_eq!(infer_push_type(Some("com.acme.voip")), PushType::Voip);
        assert_eq!(
            infer_push_type(Some("com.acme.voip-ptt")),
            PushType::PushToTalk
        );
        assert_eq!(infer_push_type(Some("com.acme")), PushType::Alert);
        let map = headers(&[("apns-topic", "com.acme.voip")]);
        let push = check_push(&map, TOKEN, &[b' '; 5000]).unwrap();
        assert_eq!(push.push_type_header, None);
        assert_eq!(push.notification.push_type(), PushType::Voip);
    }

    #[test]
    fn apns_id_form() {
        assert_eq!(request_apns_id(&headers(&[])), None);
        let bad = headers(&[("apns-id", "123E4567-E89B-12D3-A456-426614174000")]);
        assert_eq!(request_apns_id(&bad), Some(Err(Reason::BadMessageId)));
        let good = headers(&[("apns-id", "123e4567-e89b-12d3-a456-426614174000")]);
        assert!(matches!(request_apns_id(&good), Some(Ok(_))));
    }
}
