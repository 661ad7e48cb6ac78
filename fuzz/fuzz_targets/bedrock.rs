//! llmux_bedrock's codec on untrusted bytes, for a Converse model and for
//! Claude on InvokeModel (the first byte picks): requests to encode, whole,
//! error and streamed answers, so the AWS event-stream framing too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llmux_bedrock::BedrockCodec;

fuzz_target!(|data: &[u8]| {
    let Some((&which, data)) = data.split_first() else {
        return;
    };
    let model = if which & 1 == 1 {
        "anthropic.claude-3-5-sonnet-20240620-v1:0"
    } else {
        "amazon.nova-pro-v1:0"
    };
    let params = llmux_fuzz::params(serde_json::json!({"aws_region_name": "us-east-1"}));
    llmux_fuzz::codec::<BedrockCodec>("bedrock", model, &params, data);
});
