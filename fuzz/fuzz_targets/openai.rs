//! llmux_openai's codec on untrusted bytes: chat and Responses requests to
//! encode, whole, error and streamed answers (see `llmux_fuzz::codec`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmux_openai::OpenAiCodec;

fuzz_target!(|data: &[u8]| {
    let params = llmux_fuzz::params(serde_json::json!({}));
    llmux_fuzz::codec::<OpenAiCodec>("openai", "gpt-4o", &params, data);
});
