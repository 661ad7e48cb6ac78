//! OpenAI's stream framing: SSE events whose data is a `chat.completion.chunk`,
//! ended by `data: [DONE]`. An `{"error": ...}` event ends the stream with that
//! error; a body that ends before `[DONE]` (and before any finish reason) is a
//! truncation and ends with an error too, never silently.

use llmux_core::sse::SseDecoder;
use llmux_core::stream::{DecodeStatus, StreamDecoder};
use llmux_core::{ChatCompletionChunk, Error, ErrorKind, Result};
use serde_json::Value;

use crate::error::decode_stream_error;

/// Decodes an OpenAI-compatible SSE body into chunks.
#[derive(Debug)]
pub struct OpenAiStreamDecoder {
    provider: String,
    sse: SseDecoder,
    saw_finish: bool,
}

impl OpenAiStreamDecoder {
    /// A decoder for `provider`'s stream (the name goes into errors).
    pub fn new(provider: impl Into<String>) -> Self {
        OpenAiStreamDecoder {
            provider: provider.into(),
            sse: SseDecoder::new(),
            saw_finish: false,
        }
    }

    fn handle(
        &mut self,
        event: llmux_core::sse::SseEvent,
        out: &mut Vec<ChatCompletionChunk>,
    ) -> Result<DecodeStatus> {
        let data = event.data.trim();
        if data == "[DONE]" {
            return Ok(DecodeStatus::Done);
        }
        if data.is_empty() {
            return Ok(DecodeStatus::More);
        }
        if event.event.as_deref() == Some("error") || data.starts_with("{\"error\"") {
            let value: Value = serde_json::from_str(data).unwrap_or(Value::Null);
            return Err(decode_stream_error(&self.provider, &value));
        }
        let chunk: ChatCompletionChunk = serde_json::from_str(data).map_err(|e| {
            Error::bad_gateway(format!("cannot decode stream chunk: {e}"))
                .with_provider(self.provider.clone())
        })?;
        if chunk.choices.iter().any(|c| c.finish_reason.is_some()) {
            self.saw_finish = true;
        }
        out.push(chunk);
        Ok(DecodeStatus::More)
    }
}

impl StreamDecoder for OpenAiStreamDecoder {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<ChatCompletionChunk>) -> Result<DecodeStatus> {
        self.sse.push(bytes);
        while let Some(event) = self.sse.next_event()? {
            if self.handle(event, out)? == DecodeStatus::Done {
                return Ok(DecodeStatus::Done);
            }
        }
        Ok(DecodeStatus::More)
    }

    fn finish(&mut self, out: &mut Vec<ChatCompletionChunk>) -> Result<()> {
        if let Some(event) = self.sse.finish()? {
            if self.handle(event, out)? == DecodeStatus::Done {
                return Ok(());
            }
        }
        // Some OpenAI-compatible servers close after the finish chunk without
        // `[DONE]`; that is complete. Anything else was cut short.
        if self.saw_finish {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::ApiConnection,
                "upstream stream ended before it was complete (no [DONE] and no finish_reason)",
            )
            .with_provider(self.provider.clone()))
        }
    }
}
