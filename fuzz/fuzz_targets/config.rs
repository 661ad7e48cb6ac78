//! The config loader on untrusted YAML: a clear error or a config, never a
//! panic (environment references resolve against an empty environment).
#![no_main]

use std::collections::HashMap;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use llmux_core::MapEnv;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = Arc::new(MapEnv(HashMap::new()));
    let _ = llmux_proxy::config::parse("fuzz.yaml", text, env);
});
