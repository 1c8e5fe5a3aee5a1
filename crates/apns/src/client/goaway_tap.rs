//! Reads the server's GOAWAY frames as they pass to `h2`, which reports a GOAWAY to the streams
//! it ends but exposes neither its last-stream-id nor its debug data (where APNs puts
//! `{"reason": …}`, docs/reference/apns.md §3). The tap only looks: every byte reaches `h2`
//! unchanged.

use super::lock;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::{ErrorBody, Reason};

const FRAME_HEADER: usize = 9;
const GOAWAY: u8 = 0x7;
/// Debug data kept (APNs sends a short JSON object).
const DEBUG_CAP: usize = 1024;

/// A GOAWAY the server sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Goaway {
    /// Streams above this one were not processed and can be sent again.
    pub last_stream_id: u32,
    /// The HTTP/2 error code (0 = `NO_ERROR`).
    pub error_code: u32,
    /// The debug data (APNs: JSON with a `reason`).
    pub debug_data: Vec<u8>,
}

impl Goaway {
    /// The `reason` of APNs's JSON debug data, if it holds one.
    pub fn reason(&self) -> Option<Reason> {
        ErrorBody::parse(&self.debug_data).ok().map(|b| b.reason)
    }

    /// The debug data as text, for logs.
    pub fn debug_text(&self) -> String {
        String::from_utf8_lossy(&self.debug_data).into_owned()
    }
}

/// Where the tap leaves the last GOAWAY seen.
pub(crate) type GoawaySlot = Arc<Mutex<Option<Goaway>>>;

pub(crate) struct GoawayTap<T> {
    inner: T,
    slot: GoawaySlot,
    header: Vec<u8>,
    remaining: usize,
    /// Payload of the GOAWAY being read.
    payload: Option<Vec<u8>>,
}

impl<T> GoawayTap<T> {
    pub(crate) fn new(inner: T) -> (GoawayTap<T>, GoawaySlot) {
        let slot = GoawaySlot::default();
        let tap = GoawayTap {
            inner,
            slot: Arc::clone(&slot),
            header: Vec::with_capacity(FRAME_HEADER),
            remaining: 0,
            payload: None,
        };
        (tap, slot)
    }

    fn observe(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.remaining == 0 && self.payload.is_none() {
                let n = (FRAME_HEADER - self.header.len()).min(data.len());
                self.header.extend_from_slice(&data[..n]);
                data = &data[n..];
                if self.header.len() < FRAME_HEADER {
                    return;
                }
                let h = &self.header;
                self.remaining =
                    usize::from(h[0]) << 16 | usize::from(h[1]) << 8 | usize::from(h[2]);
                if h[3] == GOAWAY {
                    self.payload = Some(Vec::with_capacity(self.remaining.min(8 + DEBUG_CAP)));
                }
                self.header.clear();
            }
            let n = self.remaining.min(data.len());
            if let Some(payload) = &mut self.payload {
                let room = (8 + DEBUG_CAP).saturating_sub(payload.len());
                payload.extend_from_slice(&data[..n.min(room)]);
            }
            self.remaining -= n;
            data = &data[n..];
            if self.remaining == 0
                && let Some(payload) = self.payload.take()
                && payload.len() >= 8
            {
                let goaway = Goaway {
                    last_stream_id: u32::from_be_bytes([
                        payload[0], payload[1], payload[2], payload[3],
                    ]) & 0x7fff_ffff,
                    error_code: u32::from_be_bytes([
                        payload[4], payload[5], payload[6], payload[7],
                    ]),
                    debug_data: payload[8..].to_vec(),
                };
                *lock(&self.slot) = Some(goaway);
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for GoawayTap<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            this.observe(&buf.filled()[before..]);
        }
        result
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for GoawayTap<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_goaway_split_across_reads_is_seen_between_other_frames() {
        let (mut tap, slot) = GoawayTap::new(());
        let mut bytes = vec![0, 0, 4, 0x3, 0, 0, 0, 0, 5, 0, 0, 0, 7]; // RST_STREAM
        let debug = br#"{"reason":"Shutdown"}"#;
        bytes.extend_from_slice(&[0, 0, (8 + debug.len()) as u8, GOAWAY, 0, 0, 0, 0, 0]);
        bytes.extend_from_slice(&3u32.to_be_bytes());
        bytes.extend_from_slice(&0u32.to_be_bytes());
        bytes.extend_from_slice(debug);
        for b in &bytes {
            tap.observe(std::slice::from_ref(b));
        }
        let goaway = slot.lock().unwrap().clone().unwrap();
        assert_eq!(goaway.last_stream_id, 3);
        assert_eq!(goaway.reason(), Some(Reason::Shutdown));
    }
}
