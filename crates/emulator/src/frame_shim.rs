//! A frame-aware layer between the (decrypted) byte stream and the `h2` server for what `h2` 0.4
//! cannot do: change `SETTINGS_MAX_CONCURRENT_STREAMS` mid-connection, and send a GOAWAY with a
//! chosen last-stream-id and debug data.
//!
//! Outgoing: the server's first SETTINGS frame has its `MAX_CONCURRENT_STREAMS` rewritten to the
//! initial value (1 on a token connection before its first valid JWT); each
//! [`ShimControl::advertise`] inserts a SETTINGS frame with a new limit at the next frame
//! boundary, and [`ShimControl::goaway`] a GOAWAY frame, after which `h2`'s own GOAWAY frames are
//! dropped (RFC 9113 §6.8 forbids raising the last-stream-id, and `h2`'s graceful shutdown would
//! announce a higher one). Incoming: the peer's SETTINGS ACKs for inserted frames are removed, so
//! `h2` never sees an ACK it did not ask for (it treats one as a protocol error); ACKs are matched
//! in order (RFC 9113 §6.5.3) and the limit the peer has acknowledged is published
//! ([`ShimControl::acknowledged_limit`]).
//!
//! `h2` is configured with the highest limit the emulator will ever allow, so the limit in force
//! is enforced by the emulator's own stream gate (`server::StreamGate`), not by `h2`.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::sync::lock;

const FRAME_HEADER: usize = 9;
const SETTINGS: u8 = 0x4;
const GOAWAY: u8 = 0x7;
const ACK: u8 = 0x1;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
/// Bytes read from the inner stream at a time.
const READ_CHUNK: usize = 16 * 1024;

/// A frame the emulator asks the shim to send.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Insert {
    Limit(u32),
    Goaway {
        last_stream_id: u32,
        error_code: u32,
        debug: Vec<u8>,
    },
}

#[derive(Debug)]
struct ControlState {
    pending: Mutex<VecDeque<Insert>>,
    /// Wakes the writer side when a frame is queued while `h2` has nothing to write.
    waker: Mutex<Option<Waker>>,
    /// `MAX_CONCURRENT_STREAMS` the peer has acknowledged (`u32::MAX` before its first ACK:
    /// RFC 9113 §6.5.2, the initial value is unlimited).
    acknowledged: AtomicU32,
}

/// The emulator's handle on a connection's shim.
#[derive(Debug, Clone)]
pub(crate) struct ShimControl(Arc<ControlState>);

impl ShimControl {
    fn new() -> Self {
        ShimControl(Arc::new(ControlState {
            pending: Mutex::new(VecDeque::new()),
            waker: Mutex::new(None),
            acknowledged: AtomicU32::new(u32::MAX),
        }))
    }

    fn push(&self, insert: Insert) {
        lock(&self.0.pending).push_back(insert);
        if let Some(waker) = lock(&self.0.waker).take() {
            waker.wake();
        }
    }

    /// Advertises a new `MAX_CONCURRENT_STREAMS`.
    pub(crate) fn advertise(&self, limit: u32) {
        self.push(Insert::Limit(limit));
    }

    /// Sends a GOAWAY; `h2`'s own GOAWAY frames are dropped from then on.
    pub(crate) fn goaway(&self, last_stream_id: u32, error_code: u32, debug: Vec<u8>) {
        self.push(Insert::Goaway {
            last_stream_id: last_stream_id & 0x7fff_ffff,
            error_code,
            debug,
        });
    }

    /// The stream limit the peer has acknowledged.
    pub(crate) fn acknowledged_limit(&self) -> u32 {
        self.0.acknowledged.load(Ordering::SeqCst)
    }
}

/// Splits a byte stream into frames: header, then payload.
#[derive(Debug, Default)]
struct Framer {
    header: Vec<u8>,
    /// Payload bytes still to come of the current frame.
    remaining: usize,
    /// Payload kept of the current frame (the first SETTINGS only).
    payload: Vec<u8>,
    keep_payload: bool,
    /// The current frame is dropped (an `h2` GOAWAY after ours).
    drop_payload: bool,
}

impl Framer {
    fn at_boundary(&self) -> bool {
        self.header.is_empty() && self.remaining == 0
    }
}

pub(crate) struct FrameShim<T> {
    inner: T,
    initial_limit: u32,
    control: ShimControl,
    first_settings_seen: bool,
    goaway_sent: bool,
    /// For every SETTINGS frame sent, the `MAX_CONCURRENT_STREAMS` it carries (if any) and
    /// whether the shim inserted it.
    sent_settings: VecDeque<(Option<u32>, bool)>,
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
    /// Reused buffer for reads from the inner stream.
    raw: Vec<u8>,
}

impl<T> FrameShim<T> {
    /// Wraps `inner`; the first SETTINGS frame will advertise `initial_limit`.
    pub(crate) fn new(inner: T, initial_limit: u32) -> (FrameShim<T>, ShimControl) {
        let control = ShimControl::new();
        let shim = FrameShim {
            inner,
            initial_limit,
            control: control.clone(),
            first_settings_seen: false,
            goaway_sent: false,
            sent_settings: VecDeque::new(),
            out: Vec::new(),
            out_pos: 0,
            write: Framer::default(),
            preface_left: PREFACE.len(),
            read: Framer::default(),
            incoming: Vec::new(),
            incoming_pos: 0,
            raw: Vec::new(),
        };
        (shim, control)
    }

    /// Inserts the queued frames if the writer is at a frame boundary (and after `h2`'s first
    /// SETTINGS, which must open the connection).
    fn maybe_insert(&mut self) {
        if !self.write.at_boundary() || !self.first_settings_seen || self.write.keep_payload {
            return;
        }
        let pending: Vec<Insert> = lock(&self.control.0.pending).drain(..).collect();
        for insert in pending {
            match insert {
                Insert::Limit(limit) => {
                    if self.goaway_sent {
                        continue;
                    }
                    let mut frame = vec![0, 0, 6, SETTINGS, 0, 0, 0, 0, 0];
                    frame.extend_from_slice(&MAX_CONCURRENT_STREAMS.to_be_bytes());
                    frame.extend_from_slice(&limit.to_be_bytes());
                    self.out.extend_from_slice(&frame);
                    self.sent_settings.push_back((Some(limit), true));
                }
                Insert::Goaway {
                    last_stream_id,
                    error_code,
                    debug,
                } => {
                    if self.goaway_sent {
                        continue;
                    }
                    self.goaway_sent = true;
                    let len = u32::try_from(8 + debug.len()).unwrap_or(8).to_be_bytes();
                    self.out
                        .extend_from_slice(&[len[1], len[2], len[3], GOAWAY, 0, 0, 0, 0, 0]);
                    self.out.extend_from_slice(&last_stream_id.to_be_bytes());
                    self.out.extend_from_slice(&error_code.to_be_bytes());
                    self.out.extend_from_slice(&debug);
                }
            }
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
                let kind = w.header[3];
                let is_settings = kind == SETTINGS && w.header[4] & ACK == 0;
                w.keep_payload = is_settings && !self.first_settings_seen;
                w.drop_payload = kind == GOAWAY && self.goaway_sent;
                if is_settings && !w.keep_payload {
                    // `h2` only re-sends SETTINGS for window or CONNECT changes.
                    self.sent_settings.push_back((None, false));
                }
                if w.keep_payload {
                    self.first_settings_seen = true;
                    w.payload.clear();
                } else if w.drop_payload {
                    w.header.clear();
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
            } else if !w.drop_payload {
                self.out.extend_from_slice(&data[..n]);
            }
            w.remaining -= n;
            data = &data[n..];
            if w.remaining == 0 {
                w.drop_payload = false;
                if w.keep_payload {
                    self.finish_first_settings();
                }
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
                entry[2..].copy_from_slice(&self.initial_limit.to_be_bytes());
                found = true;
            }
        }
        if !found {
            payload.extend_from_slice(&MAX_CONCURRENT_STREAMS.to_be_bytes());
            payload.extend_from_slice(&self.initial_limit.to_be_bytes());
        }
        let len = u32::try_from(payload.len()).unwrap_or(0).to_be_bytes();
        w.header[..3].copy_from_slice(&len[1..]);
        self.out.extend_from_slice(&w.header);
        self.out.extend_from_slice(&payload);
        w.header.clear();
        w.keep_payload = false;
        self.sent_settings
            .push_back((Some(self.initial_limit), false));
    }

    /// Runs the peer's bytes through the framer into `incoming`, dropping the ACKs of inserted
    /// SETTINGS frames and noting the limit each ACK confirms.
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
                let mut ours = false;
                if is_ack && let Some((limit, inserted)) = self.sent_settings.pop_front() {
                    ours = inserted;
                    if let Some(limit) = limit {
                        self.control.0.acknowledged.store(limit, Ordering::SeqCst);
                    }
                }
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

impl<T: AsyncWrite + Unpin> FrameShim<T> {
    /// `h2` polls reads all the time but writes only when it has something to say: frames
    /// queued while it is quiet (a GOAWAY on an idle connection) are sent from the read side.
    /// Both sides run in the one task that drives the connection, so this cannot interleave
    /// with a write.
    fn send_queued(&mut self, cx: &mut Context<'_>) {
        {
            let mut slot = lock(&self.control.0.waker);
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        if lock(&self.control.0.pending).is_empty() {
            return;
        }
        self.maybe_insert();
        if let Poll::Ready(Ok(())) = self.poll_drain(cx) {
            let _ = Pin::new(&mut self.inner).poll_flush(cx);
        }
    }

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

impl<T: AsyncWrite + Unpin> AsyncWrite for FrameShim<T> {
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

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncRead for FrameShim<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.send_queued(cx);
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
            // The read buffer is taken out of `self` for the read, so `take_incoming` can
            // borrow `self` without copying the bytes.
            let mut raw = std::mem::take(&mut this.raw);
            raw.resize(READ_CHUNK, 0);
            let mut raw_buf = ReadBuf::new(&mut raw);
            let result = Pin::new(&mut this.inner).poll_read(cx, &mut raw_buf);
            let n = raw_buf.filled().len();
            if let Poll::Ready(Ok(())) = result
                && n > 0
            {
                this.take_incoming(&raw[..n]);
            }
            this.raw = raw;
            match result {
                Poll::Ready(Ok(())) if n == 0 => return Poll::Ready(Ok(())), // end of stream
                Poll::Ready(Ok(())) => {}
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

    fn goaway(last: u32, code: u32, debug: &[u8]) -> Vec<u8> {
        let mut frame = vec![0, 0, (8 + debug.len()) as u8, GOAWAY, 0, 0, 0, 0, 0];
        frame.extend_from_slice(&last.to_be_bytes());
        frame.extend_from_slice(&code.to_be_bytes());
        frame.extend_from_slice(debug);
        frame
    }

    #[test]
    fn first_settings_is_rewritten_and_new_limits_inserted_at_a_boundary() {
        let (mut shim, control) = FrameShim::new((), 1);
        control.advertise(1000); // queued before h2's first SETTINGS: must wait for it
        let first = settings(&[(0x1, 4096), (MAX_CONCURRENT_STREAMS, 1000)], 0);
        // Byte by byte, to exercise the framer.
        for b in &first {
            shim.take_outgoing(std::slice::from_ref(b));
        }
        let mut expected = settings(&[(0x1, 4096), (MAX_CONCURRENT_STREAMS, 1)], 0);
        expected.extend(settings(&[(MAX_CONCURRENT_STREAMS, 1000)], 0));
        assert_eq!(shim.out, expected);
        shim.out.clear();

        // A HEADERS frame half written when the drop comes: the insert waits for its end.
        let headers = [0, 0, 2, 0x1, 0x4, 0, 0, 0, 1, 0xaa, 0xbb];
        shim.take_outgoing(&headers[..10]);
        control.advertise(1);
        shim.take_outgoing(&headers[10..]);
        let mut expected = headers.to_vec();
        expected.extend(settings(&[(MAX_CONCURRENT_STREAMS, 1)], 0));
        assert_eq!(shim.out, expected);
        assert_eq!(
            shim.sent_settings,
            [(Some(1), false), (Some(1000), true), (Some(1), true)]
        );
    }

    #[test]
    fn only_the_acks_of_inserted_frames_are_dropped_and_each_ack_is_noted() {
        let (mut shim, control) = FrameShim::new((), 1);
        shim.take_outgoing(&settings(&[(MAX_CONCURRENT_STREAMS, 1000)], 0));
        control.advertise(1000);
        shim.take_outgoing(&[]);
        shim.maybe_insert();
        assert_eq!(control.acknowledged_limit(), u32::MAX);
        let mut peer = PREFACE.to_vec();
        peer.extend(settings(&[(0x4, 65535)], 0));
        peer.extend(settings(&[], ACK)); // acks h2's frame: kept
        shim.take_incoming(&peer);
        assert_eq!(control.acknowledged_limit(), 1);
        let mut rest = settings(&[], ACK); // acks ours: dropped
        let ping = [0, 0, 8, 0x6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        rest.extend_from_slice(&ping);
        shim.take_incoming(&rest);
        assert_eq!(control.acknowledged_limit(), 1000);
        let mut expected = PREFACE.to_vec();
        expected.extend(settings(&[(0x4, 65535)], 0));
        expected.extend(settings(&[], ACK));
        expected.extend_from_slice(&ping);
        assert_eq!(shim.incoming, expected);
    }

    #[test]
    fn our_goaway_replaces_h2s() {
        let (mut shim, control) = FrameShim::new((), 1000);
        shim.take_outgoing(&settings(&[], 0));
        shim.out.clear();
        control.goaway(3, 0, br#"{"reason":"Shutdown"}"#.to_vec());
        control.advertise(1); // after a GOAWAY, no more SETTINGS
        let rst = [0, 0, 4, 0x3, 0, 0, 0, 0, 5, 0, 0, 0, 7];
        let mut h2_out = rst.to_vec();
        h2_out.extend(goaway(0x7fff_ffff, 0, b""));
        h2_out.extend(goaway(5, 0, b"bye"));
        for b in &h2_out {
            shim.take_outgoing(std::slice::from_ref(b));
        }
        let mut expected = goaway(3, 0, br#"{"reason":"Shutdown"}"#);
        expected.extend_from_slice(&rst);
        assert_eq!(shim.out, expected);
    }
}
