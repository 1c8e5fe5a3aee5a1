//! A frame-aware layer between the (decrypted) byte stream and the `h2` server that lets the
//! emulator change `SETTINGS_MAX_CONCURRENT_STREAMS` mid-connection, which `h2` 0.4 cannot do.
//!
//! Outgoing: the server's first SETTINGS frame has its `MAX_CONCURRENT_STREAMS` rewritten to
//! the pre-authentication value (1); once [`Raise::raise`] is called, a SETTINGS frame with the
//! real limit is inserted at the next frame boundary. Incoming: the peer's SETTINGS ACK for that
//! inserted frame is removed, so `h2` never sees an ACK it did not ask for (it treats one as a
//! protocol error). ACKs are matched in order (RFC 9113 §6.5.3: a peer acknowledges SETTINGS in
//! the order received).
//!
//! `h2` itself is configured with the real limit from the start, so the limit it enforces on the
//! peer is the raised one; before authentication the emulator's own gate
//! ([`crate::PreAuthStreams`]) handles a client that ignores the advertised 1.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const FRAME_HEADER: usize = 9;
const SETTINGS: u8 = 0x4;
const ACK: u8 = 0x1;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Asks the shim to advertise the raised limit.
#[derive(Debug, Clone, Default)]
pub(crate) struct Raise(Arc<AtomicBool>);

impl Raise {
    pub(crate) fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Splits a byte stream into frames: header, then payload.
#[derive(Debug, Default)]
struct Framer {
    header: Vec<u8>,
    /// Payload bytes still to come of the current frame.
    remaining: usize,
    /// Payload kept of the current frame (SETTINGS only).
    payload: Vec<u8>,
    keep_payload: bool,
}

impl Framer {
    fn at_boundary(&self) -> bool {
        self.header.is_empty() && self.remaining == 0
    }
}

pub(crate) struct SettingsShim<T> {
    inner: T,
    pre_auth_limit: u32,
    limit: u32,
    raise: Raise,
    raised: bool,
    first_settings_seen: bool,
    /// For every SETTINGS frame sent, whether the shim inserted it.
    sent_settings: VecDeque<bool>,
    /// Bytes ready for the inner writer.
    out: Vec<u8>,
    out_pos: usize,
    write: Framer,
    /// Client preface bytes still to pass through unparsed.
    preface_left: usize,
    read: Framer,
    /// Bytes ready for `h2` to read.
    incoming: Vec<u8>,
    incoming_pos: usize,
}

impl<T> SettingsShim<T> {
    pub(crate) fn new(inner: T, pre_auth_limit: u32, limit: u32) -> (SettingsShim<T>, Raise) {
        let raise = Raise::default();
        let shim = SettingsShim {
            inner,
            pre_auth_limit,
            limit,
            raise: raise.clone(),
            raised: false,
            first_settings_seen: false,
            sent_settings: VecDeque::new(),
            out: Vec::new(),
            out_pos: 0,
            write: Framer::default(),
            preface_left: PREFACE.len(),
            read: Framer::default(),
            incoming: Vec::new(),
            incoming_pos: 0,
        };
        (shim, raise)
    }

    fn maybe_insert(&mut self) {
        if !self.raised && self.raise.0.load(Ordering::SeqCst) && self.write.at_boundary() {
            self.raised = true;
            let mut frame = vec![0, 0, 6, SETTINGS, 0, 0, 0, 0, 0];
            frame.extend_from_slice(&MAX_CONCURRENT_STREAMS.to_be_bytes());
            frame.extend_from_slice(&self.limit.to_be_bytes());
            self.out.extend_from_slice(&frame);
            self.sent_settings.push_back(true);
        }
    }

    /// Runs `h2`'s outgoing bytes through the framer into `out`.
    fn take_outgoing(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            self.maybe_insert();
            let w = &mut self.write;
            if w.remaining == 0 {
                let need = FRAME_HEADER - w.header.len();
                let n = need.min(data.len());
                w.header.extend_from_slice(&data[..n]);
                data = &data[n..];
                if w.header.len() < FRAME_HEADER {
                    continue;
                }
                let len = frame_len(&w.header);
                let is_settings = w.header[3] == SETTINGS && w.header[4] & ACK == 0;
                if is_settings {
                    self.sent_settings.push_back(false);
                }
                w.keep_payload = is_settings && !self.first_settings_seen;
                if w.keep_payload {
                    self.first_settings_seen = true;
                    w.payload.clear();
                } else {
                    self.out.extend_from_slice(&w.header);
                    w.header.clear();
                }
                w.remaining = len;
                if len == 0 && w.keep_payload {
                    self.finish_first_settings();
                }
                continue;
            }
            let n = w.remaining.min(data.len());
            if w.keep_payload {
                w.payload.extend_from_slice(&data[..n]);
            } else {
                self.out.extend_from_slice(&data[..n]);
            }
            w.remaining -= n;
            data = &data[n..];
            if w.remaining == 0 && w.keep_payload {
                self.finish_first_settings();
            }
        }
        self.maybe_insert();
    }

    /// Rewrites (or adds) MAX_CONCURRENT_STREAMS in the server's first SETTINGS frame.
    fn finish_first_settings(&mut self) {
        let w = &mut self.write;
        let mut payload = std::mem::take(&mut w.payload);
        let mut found = false;
        for entry in payload.chunks_exact_mut(6) {
            if u16::from_be_bytes([entry[0], entry[1]]) == MAX_CONCURRENT_STREAMS {
                entry[2..].copy_from_slice(&self.pre_auth_limit.to_be_bytes());
                found = true;
            }
        }
        if !found {
            payload.extend_from_slice(&MAX_CONCURRENT_STREAMS.to_be_bytes());
            payload.extend_from_slice(&self.pre_auth_limit.to_be_bytes());
        }
        let len = u32::try_from(payload.len()).unwrap_or(0).to_be_bytes();
        w.header[..3].copy_from_slice(&len[1..]);
        self.out.extend_from_slice(&w.header);
        self.out.extend_from_slice(&payload);
        w.header.clear();
        w.keep_payload = false;
    }

    /// Runs the peer's bytes through the framer into `incoming`, dropping the ACKs of inserted
    /// SETTINGS frames.
    fn take_incoming(&mut self, mut data: &[u8]) {
        if self.preface_left > 0 {
            let n = self.preface_left.min(data.len());
            self.incoming.extend_from_slice(&data[..n]);
            self.preface_left -= n;
            data = &data[n..];
        }
        while !data.is_empty() {
            let r = &mut self.read;
            if r.remaining == 0 {
                let need = FRAME_HEADER - r.header.len();
                let n = need.min(data.len());
                r.header.extend_from_slice(&data[..n]);
                data = &data[n..];
                if r.header.len() < FRAME_HEADER {
                    continue;
                }
                r.remaining = frame_len(&r.header);
                let is_ack = r.header[3] == SETTINGS && r.header[4] & ACK != 0;
                let ours = is_ack && self.sent_settings.pop_front() == Some(true);
                if !ours {
                    self.incoming.extend_from_slice(&r.header);
                }
                r.header.clear();
                continue;
            }
            let n = r.remaining.min(data.len());
            self.incoming.extend_from_slice(&data[..n]);
            r.remaining -= n;
            data = &data[n..];
        }
    }
}

fn frame_len(header: &[u8]) -> usize {
    usize::from(header[0]) << 16 | usize::from(header[1]) << 8 | usize::from(header[2])
}

impl<T: AsyncWrite + Unpin> SettingsShim<T> {
    /// Writes `out` to the inner stream; `Ready(Ok)` once it is all written.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.out_pos < self.out.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.out[self.out_pos..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            self.out_pos += n;
        }
        self.out.clear();
        self.out_pos = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SettingsShim<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        if !this.out.is_empty() {
            return Poll::Pending;
        }
        this.take_outgoing(buf);
        // Best effort now; the rest goes out on the next write or flush.
        if let Poll::Ready(Err(e)) = this.poll_drain(cx) {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.maybe_insert();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.poll_drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SettingsShim<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.incoming_pos < this.incoming.len() {
                let n = buf.remaining().min(this.incoming.len() - this.incoming_pos);
                buf.put_slice(&this.incoming[this.incoming_pos..this.incoming_pos + n]);
                this.incoming_pos += n;
                if this.incoming_pos == this.incoming.len() {
                    this.incoming.clear();
                    this.incoming_pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            let mut raw = [0u8; 16 * 1024];
            let mut raw_buf = ReadBuf::new(&mut raw);
            match Pin::new(&mut this.inner).poll_read(cx, &mut raw_buf) {
                Poll::Ready(Ok(())) => {
                    let filled = raw_buf.filled();
                    if filled.is_empty() {
                        return Poll::Ready(Ok(())); // end of stream
                    }
                    let filled = filled.to_vec();
                    this.take_incoming(&filled);
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(entries: &[(u16, u32)], flags: u8) -> Vec<u8> {
        let len = entries.len() * 6;
        let mut frame = vec![0, 0, len as u8, SETTINGS, flags, 0, 0, 0, 0];
        for (id, value) in entries {
            frame.extend_from_slice(&id.to_be_bytes());
            frame.extend_from_slice(&value.to_be_bytes());
        }
        frame
    }

    #[test]
    fn first_settings_is_rewritten_and_the_raise_inserted_at_a_boundary() {
        let (mut shim, raise) = SettingsShim::new((), 1, 1000);
        let first = settings(&[(0x1, 4096), (MAX_CONCURRENT_STREAMS, 1000)], 0);
        // Byte by byte, to exercise the framer.
        for b in &first {
            shim.take_outgoing(std::slice::from_ref(b));
        }
        assert_eq!(
            shim.out,
            settings(&[(0x1, 4096), (MAX_CONCURRENT_STREAMS, 1)], 0)
        );
        shim.out.clear();

        // A HEADERS frame half written when the raise comes: the insert waits for its end.
        let headers = [0, 0, 2, 0x1, 0x4, 0, 0, 0, 1, 0xaa, 0xbb];
        shim.take_outgoing(&headers[..10]);
        raise.raise();
        shim.take_outgoing(&headers[10..]);
        let mut expected = headers.to_vec();
        expected.extend(settings(&[(MAX_CONCURRENT_STREAMS, 1000)], 0));
        assert_eq!(shim.out, expected);
        assert_eq!(shim.sent_settings, [false, true]);
    }

    #[test]
    fn only_the_ack_of_the_inserted_frame_is_dropped() {
        let (mut shim, raise) = SettingsShim::new((), 1, 1000);
        shim.take_outgoing(&settings(&[(MAX_CONCURRENT_STREAMS, 1000)], 0));
        raise.raise();
        shim.take_outgoing(&[]);
        let mut peer = PREFACE.to_vec();
        peer.extend(settings(&[(0x4, 65535)], 0));
        peer.extend(settings(&[], ACK)); // acks h2's frame: kept
        peer.extend(settings(&[], ACK)); // acks ours: dropped
        let ping = [0, 0, 8, 0x6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        peer.extend_from_slice(&ping);
        shim.take_incoming(&peer);
        let mut expected = PREFACE.to_vec();
        expected.extend(settings(&[(0x4, 65535)], 0));
        expected.extend(settings(&[], ACK));
        expected.extend_from_slice(&ping);
        assert_eq!(shim.incoming, expected);
    }
}
