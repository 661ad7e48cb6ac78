//! Server-sent events, decoded incrementally.
//!
//! Follows the WHATWG event-stream grammar: lines end in `\n`, `\r\n` or `\r`;
//! `data:` lines accumulate (joined with `\n`); `event:`, `id:` and `retry:` set
//! fields; lines starting with `:` are comments; a blank line dispatches. Bytes
//! may arrive split anywhere — inside a field, inside a `\r\n`, inside a UTF-8
//! character — and decode the same.

use crate::error::{Error, Result};
use crate::stream::{DecodeStatus, StreamDecoder};
use crate::types::chat::ChatCompletionChunk;

/// The longest line an event stream may send (16 MiB): an upstream that sends
/// a line without end is cut off instead of growing the buffer for ever.
pub const MAX_LINE_BYTES: usize = 16 << 20;
/// The most `data` one event may carry (32 MiB).
pub const MAX_EVENT_BYTES: usize = 32 << 20;

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, if the event had one.
    pub event: Option<String>,
    /// All `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, if the event had one.
    pub id: Option<String>,
    /// The `retry:` field in milliseconds, if the event had one.
    pub retry: Option<u64>,
}

/// A chat stream decoder whose body is SSE: it names its [`SseDecoder`] and
/// handles one event at a time; reading, stopping at the terminal event and
/// flushing the last event at the end of the body are the same for all of
/// them, so every `SseChatEvents` is a [`StreamDecoder`].
pub trait SseChatEvents: Send + 'static {
    /// The decoder's SSE framing state.
    fn sse(&mut self) -> &mut SseDecoder;

    /// Decode one event, appending the chunks it completes to `out`.
    fn on_event(&mut self, event: SseEvent, out: &mut Vec<ChatCompletionChunk>) -> Result<()>;

    /// Whether the protocol's terminal event has been handled (reading
    /// stops there); `false` for protocols that end with the body.
    fn is_done(&self) -> bool;

    /// The body ended and every event was handled: emit what is pending, or
    /// fail when the stream was cut short.
    fn on_end(&mut self, out: &mut Vec<ChatCompletionChunk>) -> Result<()>;
}

impl<T: SseChatEvents> StreamDecoder for T {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<ChatCompletionChunk>) -> Result<DecodeStatus> {
        self.sse().push(bytes);
        while let Some(event) = self.sse().next_event()? {
            self.on_event(event, out)?;
            if self.is_done() {
                return Ok(DecodeStatus::Done);
            }
        }
        Ok(DecodeStatus::More)
    }

    fn finish(&mut self, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        if !self.is_done() {
            if let Some(event) = self.sse().finish()? {
                self.on_event(event, out)?;
            }
        }
        self.on_end(out)
    }
}

/// Incremental SSE decoder: [`push`](SseDecoder::push) bytes in, take events out.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    /// Start of the not yet consumed part of `buf`.
    pos: usize,
    /// Where the search for the next line end resumes: `buf[pos..scan]`
    /// holds none, so a line arriving in many small reads is scanned once
    /// (linear time), not again on every read.
    scan: usize,
    /// Bytes examined while looking for line ends (tests check linearity).
    #[cfg(test)]
    scanned: usize,
    /// The previous line ended in `\r`; a `\n` that follows belongs to it.
    skip_lf: bool,
    bom_checked: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
    retry: Option<u64>,
}

impl SseDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append bytes read from the wire.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.scan = 0;
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.scan -= self.pos;
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, or `None` until more bytes arrive.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>> {
        loop {
            if !self.bom_checked {
                let rest = &self.buf[self.pos..];
                if rest.len() < 3 && b"\xEF\xBB\xBF".starts_with(rest) {
                    return Ok(None);
                }
                if rest.starts_with(b"\xEF\xBB\xBF") {
                    self.pos += 3;
                }
                self.bom_checked = true;
            }
            if self.skip_lf && self.pos < self.buf.len() {
                if self.buf[self.pos] == b'\n' {
                    self.pos += 1;
                }
                self.skip_lf = false;
            }
            let from = self.scan.max(self.pos);
            let found = self.buf[from..]
                .iter()
                .position(|&b| b == b'\n' || b == b'\r');
            #[cfg(test)]
            {
                self.scanned += found.map_or(self.buf.len() - from, |i| i + 1);
            }
            let Some(offset) = found else {
                self.scan = self.buf.len();
                if self.buf.len() - self.pos > MAX_LINE_BYTES {
                    return Err(Error::bad_gateway(format!(
                        "event stream sent a line longer than {} MiB",
                        MAX_LINE_BYTES >> 20
                    )));
                }
                return Ok(None);
            };
            let end = from - self.pos + offset;
            let terminator = self.buf[self.pos + end];
            let line_start = self.pos;
            self.pos += end + 1;
            self.scan = self.pos;
            if terminator == b'\r' {
                self.skip_lf = true;
            }
            if let Some(event) = self.process_line(line_start, line_start + end)? {
                return Ok(Some(event));
            }
        }
    }

    /// Called at end of input: the event still being built, if any.
    ///
    /// The standard drops an event whose closing blank line never came; servers
    /// that omit it after their last event are common, so it is dispatched here.
    pub fn finish(&mut self) -> Result<Option<SseEvent>> {
        if self.pos < self.buf.len() {
            let (start, end) = (self.pos, self.buf.len());
            self.pos = end;
            if let Some(event) = self.process_line(start, end)? {
                return Ok(Some(event));
            }
        }
        Ok(self.dispatch())
    }

    fn process_line(&mut self, start: usize, end: usize) -> Result<Option<SseEvent>> {
        if start == end {
            return Ok(self.dispatch());
        }
        let line = std::str::from_utf8(&self.buf[start..end])
            .map_err(|_| Error::bad_gateway("event stream contained invalid UTF-8"))?;
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.find(':') {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(' ').unwrap_or(v))
            }
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.data.len() + value.len() >= MAX_EVENT_BYTES {
                    return Err(Error::bad_gateway(format!(
                        "event stream sent an event with more than {} MiB of data",
                        MAX_EVENT_BYTES >> 20
                    )));
                }
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            "retry" => {
                if let Ok(ms) = value.parse::<u64>() {
                    self.retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        if !self.has_data {
            // Per the standard an event without data is not dispatched, but
            // providers such as Anthropic name every event; keep a named event.
            if self.event.is_none() {
                self.id = None;
                self.retry = None;
                return None;
            }
        }
        self.has_data = false;
        Some(SseEvent {
            event: self.event.take(),
            data: std::mem::take(&mut self.data),
            id: self.id.take(),
            retry: self.retry.take(),
        })
    }
}

/// Encode one event as SSE bytes (`event:` line if given, `data:` lines, blank line).
pub fn encode_event(event: Option<&str>, data: &str) -> String {
    let mut out = String::with_capacity(data.len() + 16);
    if let Some(e) = event {
        out.push_str("event: ");
        out.push_str(e);
        out.push('\n');
    }
    for line in data.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

/// A stream of server-sent events as an upstream sent them (passed on
/// untouched). An `Err` item ends the stream.
pub type SseStream = crate::stream::ResultStream<SseEvent>;

/// An upstream's SSE body as its events, ending after the event `is_last`
/// accepts; a body that ends before it ends the stream with an error, so a
/// cut stream is never taken as complete.
pub fn raw_events(
    provider: &str,
    model: &str,
    body: crate::stream::ByteStream,
    is_last: fn(&SseEvent) -> bool,
) -> SseStream {
    use futures::StreamExt;
    struct State {
        body: crate::stream::ByteStream,
        sse: SseDecoder,
        provider: String,
        model: String,
        eof: bool,
        ended: bool,
        is_last: fn(&SseEvent) -> bool,
    }
    let state = State {
        body,
        sse: SseDecoder::new(),
        provider: provider.to_string(),
        model: model.to_string(),
        eof: false,
        ended: false,
        is_last,
    };
    Box::pin(futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.ended {
                return None;
            }
            let next = if st.eof {
                st.sse.finish()
            } else {
                st.sse.next_event()
            };
            match next {
                Ok(Some(event)) => {
                    st.ended = (st.is_last)(&event);
                    return Some((Ok(event), st));
                }
                Ok(None) if st.eof => {
                    st.ended = true;
                    let e = crate::Error::new(
                        crate::ErrorKind::ApiConnection,
                        "upstream stream ended before its final event",
                    )
                    .with_provider(st.provider.clone())
                    .with_model(st.model.clone());
                    return Some((Err(e), st));
                }
                Ok(None) => {}
                Err(e) => {
                    st.ended = true;
                    return Some((Err(e), st));
                }
            }
            match st.body.next().await {
                Some(Ok(bytes)) => st.sse.push(&bytes),
                Some(Err(e)) => {
                    st.ended = true;
                    return Some((Err(e), st));
                }
                None => st.eof = true,
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hardening issue, finding 6: a line without an end, read a few bytes
    /// at a time, was rescanned from its start on every read (quadratic: one
    /// core busy for minutes). Each byte is now examined once.
    #[test]
    fn a_long_unterminated_line_is_scanned_once() {
        let mut d = SseDecoder::new();
        let piece = [b'x'; 7];
        d.push(b"data: ");
        for _ in 0..20_000 {
            d.push(&piece);
            assert!(d.next_event().unwrap().is_none());
        }
        d.push(b"\n\n");
        let event = d.next_event().unwrap().unwrap();
        assert_eq!(event.data.len(), 140_000);
        assert!(
            d.scanned <= 140_100,
            "{} bytes examined for a 140,008-byte line",
            d.scanned
        );
    }

    /// Finding 6: lines and events are capped, so an upstream cannot grow the
    /// buffer without end.
    #[test]
    fn lines_and_events_are_capped() {
        let mut d = SseDecoder::new();
        let chunk = vec![b'x'; 1 << 20];
        d.push(b"data: ");
        let mut err = None;
        for _ in 0..17 {
            d.push(&chunk);
            if let Err(e) = d.next_event() {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("a 17 MiB line is refused");
        assert_eq!(err.kind, crate::ErrorKind::BadGateway);
        assert_eq!(err.message, "event stream sent a line longer than 16 MiB");

        let mut d = SseDecoder::new();
        let line = format!("data: {}\n", "y".repeat(1 << 20));
        let mut err = None;
        for _ in 0..33 {
            d.push(line.as_bytes());
            if let Err(e) = d.next_event() {
                err = Some(e);
                break;
            }
        }
        let err = err.expect("an event of 33 MiB is refused");
        assert_eq!(
            err.message,
            "event stream sent an event with more than 32 MiB of data"
        );
    }

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.push(c);
            while let Some(e) = d.next_event().unwrap() {
                out.push(e);
            }
        }
        if let Some(e) = d.finish().unwrap() {
            out.push(e);
        }
        out
    }

    fn data(s: &str) -> SseEvent {
        SseEvent {
            data: s.into(),
            ..Default::default()
        }
    }

    const SAMPLE: &[u8] = b"\xEF\xBB\xBF: keep-alive comment\r\n\
event: message_start\r\ndata: {\"a\":1}\r\n\r\n\
data: line one\ndata: line two\n\n\
data:no-space\rid: 7\rretry: 3000\r\r\
data: caf\xC3\xA9 \xF0\x9F\x98\x80\n\n\
data: [DONE]\n\n";

    fn expected() -> Vec<SseEvent> {
        vec![
            SseEvent {
                event: Some("message_start".into()),
                data: "{\"a\":1}".into(),
                ..Default::default()
            },
            data("line one\nline two"),
            SseEvent {
                data: "no-space".into(),
                id: Some("7".into()),
                retry: Some(3000),
                ..Default::default()
            },
            data("café 😀"),
            data("[DONE]"),
        ]
    }

    #[test]
    fn decodes_whole_input() {
        assert_eq!(decode_all(&[SAMPLE]), expected());
    }

    #[test]
    fn decodes_every_split_point() {
        for i in 0..=SAMPLE.len() {
            let (a, b) = SAMPLE.split_at(i);
            assert_eq!(decode_all(&[a, b]), expected(), "split at {i}");
        }
    }

    #[test]
    fn decodes_byte_by_byte() {
        let chunks: Vec<&[u8]> = SAMPLE.chunks(1).collect();
        assert_eq!(decode_all(&chunks), expected());
    }

    #[test]
    fn unterminated_last_event_is_kept() {
        assert_eq!(decode_all(&[b"data: tail"]), vec![data("tail")]);
    }

    #[test]
    fn invalid_utf8_is_an_error_not_a_panic() {
        let mut d = SseDecoder::new();
        d.push(b"data: \xFF\xFE\n\n");
        let err = d.next_event().unwrap_err();
        assert_eq!(err.kind, crate::ErrorKind::BadGateway);
    }

    #[test]
    fn encode_round_trips() {
        let s = encode_event(Some("x"), "a\nb");
        assert_eq!(s, "event: x\ndata: a\ndata: b\n\n");
        let got = decode_all(&[s.as_bytes()]);
        assert_eq!(got[0].event.as_deref(), Some("x"));
        assert_eq!(got[0].data, "a\nb");
    }
}
