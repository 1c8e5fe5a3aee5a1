//! The two identifiers of a push: the device token (in `:path`) and the `apns-id` (a UUID
//! the sender may choose and APNs echoes), each parsed to the canonical form APNs uses.

use std::fmt;

/// A device token as it appears in `:path`: hex bytes, normalised to lowercase.
///
/// Apple says not to assume a token length (docs/reference/apns.md §5.5), so any non-empty whole
/// number of bytes is accepted.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceToken(String);

/// Why a device token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is empty.
    #[error("the token is empty")]
    Empty,
    /// A character is not a hex digit.
    #[error("character {found:?} at position {position} is not a hex digit")]
    NotHex {
        /// 0-based character position.
        position: usize,
        /// The offending character.
        found: char,
    },
    /// An odd number of hex digits is not a whole number of bytes.
    #[error("{digits} hex digits is not a whole number of bytes")]
    OddLength {
        /// Number of digits.
        digits: usize,
    },
}

impl DeviceToken {
    /// Checks and normalises a hex token (either case accepted, stored lowercase).
    pub fn parse(text: &str) -> Result<DeviceToken, TokenError> {
        if text.is_empty() {
            return Err(TokenError::Empty);
        }
        if let Some((position, found)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| !c.is_ascii_hexdigit())
        {
            return Err(TokenError::NotHex { position, found });
        }
        if !text.len().is_multiple_of(2) {
            return Err(TokenError::OddLength { digits: text.len() });
        }
        Ok(DeviceToken(text.to_ascii_lowercase()))
    }

    /// The token from its raw bytes (as `PKPushCredentials.token` gives them).
    ///
    /// Returns `None` for an empty slice.
    pub fn from_bytes(bytes: &[u8]) -> Option<DeviceToken> {
        if bytes.is_empty() {
            return None;
        }
        Some(DeviceToken(hex_lower(bytes)))
    }

    /// The lowercase hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Length of the token in bytes.
    pub fn byte_len(&self) -> usize {
        self.0.len() / 2
    }
}

impl fmt::Display for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DeviceToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DeviceToken({})", self.0)
    }
}

/// An `apns-id`: a canonical UUID, 32 **lowercase** hex digits in 8-4-4-4-12 form
/// (docs/reference/apns.md §1.2). Anything else is 400 `BadMessageId`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ApnsId([u8; 16]);

/// An `apns-id` that is not a lowercase canonical UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a canonical UUID: expected 32 lowercase hex digits in 8-4-4-4-12 form, \
     e.g. 123e4567-e89b-12d3-a456-426614174000"
)]
pub struct ApnsIdError(pub String);

impl ApnsId {
    /// Parses the canonical lowercase form; uppercase digits are refused (APNs documents
    /// lowercase).
    pub fn parse(text: &str) -> Result<ApnsId, ApnsIdError> {
        let bad = || ApnsIdError(text.to_owned());
        let raw = text.as_bytes();
        if raw.len() != 36 {
            return Err(bad());
        }
        let mut out = [0u8; 16];
        let mut nibbles = 0usize;
        for (i, &b) in raw.iter().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                if b != b'-' {
                    return Err(bad());
                }
                continue;
            }
            let v = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return Err(bad()),
            };
            let byte = out.get_mut(nibbles / 2).ok_or_else(bad)?;
            *byte = (*byte << 4) | v;
            nibbles += 1;
        }
        Ok(ApnsId(out))
    }

    /// An id from 16 bytes (for example random ones); printed in canonical lowercase form.
    pub fn from_bytes(bytes: [u8; 16]) -> ApnsId {
        ApnsId(bytes)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for ApnsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = hex_lower(&self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Debug for ApnsId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApnsId({self})")
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}
