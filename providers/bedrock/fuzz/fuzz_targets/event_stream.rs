//! Arbitrary bytes into the ConverseStream decoder, split at a point the
//! input chooses: it must return chunks or an error, never panic, hang or
//! allocate without bound (frames over 16 MiB are refused from the prelude).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmux_bedrock::BedrockStreamDecoder;
use llmux_core::stream::{DecodeStatus, StreamDecoder};

fuzz_target!(|data: &[u8]| {
    let (split, body) = match data.split_first() {
        Some((s, rest)) => (usize::from(*s), rest),
        None => return,
    };
    let at = if body.is_empty() { 0 } else { split % (body.len() + 1) };
    let mut decoder = BedrockStreamDecoder::with_created("bedrock", "fuzz", None, 0);
    let mut out = Vec::new();
    for piece in [&body[..at], &body[at..]] {
        match decoder.push(piece, &mut out) {
            Ok(DecodeStatus::More) => {}
            Ok(DecodeStatus::Done) | Err(_) => return,
        }
    }
    let _ = decoder.finish(&mut out);
});
