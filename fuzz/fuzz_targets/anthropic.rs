//! llmux_anthropic's codec on untrusted bytes: chat and Responses requests to
//! encode, whole, error and streamed answers (see `llmux_fuzz::codec`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmux_anthropic::AnthropicCodec;

fuzz_target!(|data: &[u8]| {
    let params = llmux_fuzz::params(serde_json::json!({}));
    llmux_fuzz::codec::<AnthropicCodec>("anthropic", "claude-sonnet-4-5", &params, data);
});
