//! The SSE decoder every SSE provider shares, and the Responses API event
//! decoder on top of it. Events must not depend on where reads split the
//! body, and lines and events stay within their caps.
#![no_main]

use bytes::Bytes;
use futures::StreamExt;
use libfuzzer_sys::fuzz_target;
use llmux_core::sse::{SseDecoder, SseEvent};

fn events(pieces: &[&[u8]]) -> Result<Vec<SseEvent>, String> {
    let mut decoder = SseDecoder::new();
    let mut out = Vec::new();
    for piece in pieces {
        decoder.push(piece);
        while let Some(event) = decoder.next_event().map_err(|e| e.to_string())? {
            out.push(event);
        }
    }
    if let Some(event) = decoder.finish().map_err(|e| e.to_string())? {
        out.push(event);
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    let (pieces, body) = llmux_fuzz::pieces(data);
    if which & 1 == 0 {
        let whole = events(&[body]);
        let split = events(&pieces);
        assert_eq!(
            whole, split,
            "SSE events depend on where the body was split"
        );
    } else {
        let reads: Vec<llmux_core::Result<Bytes>> = pieces
            .iter()
            .map(|p| Ok(Bytes::copy_from_slice(p)))
            .collect();
        let body = Box::pin(futures::stream::iter(reads));
        let stream = llmux_core::responses::decode_response_events("openai", "gpt-4o", body);
        let _ = futures::executor::block_on(stream.collect::<Vec<_>>());
    }
});
