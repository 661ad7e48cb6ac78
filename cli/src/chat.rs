//! `llmux chat`: one prompt, answer streamed to stdout (or the raw response
//! JSON with `--json`).

use std::io::{IsTerminal, Read};
use std::time::Duration;

use clap::Args;
use futures::StreamExt;
use llmux_core::types::chat::ChatCompletionRequest;
use llmux_core::{ChatMessage, ProcessEnv, ProviderParams};
use tokio::io::AsyncWriteExt;

/// Arguments of `llmux chat`.
#[derive(Args, Debug)]
pub(crate) struct ChatArgs {
    /// Model as provider/model, e.g. openai/gpt-4o or groq/llama-3.3-70b-versatile.
    #[arg(short, long, env = "LLMUX_MODEL")]
    model: String,
    /// The prompt; read from stdin when omitted.
    prompt: Vec<String>,
    /// System message sent before the prompt.
    #[arg(short, long)]
    system: Option<String>,
    /// Sampling temperature.
    #[arg(short, long)]
    temperature: Option<f64>,
    /// Cap on generated tokens.
    #[arg(long)]
    max_tokens: Option<u32>,
    /// Base URL of the provider's API (for self-hosted or proxied endpoints).
    #[arg(long)]
    api_base: Option<String>,
    /// API key (defaults to the provider's environment variable).
    #[arg(long)]
    api_key: Option<String>,
    /// Azure OpenAI api-version.
    #[arg(long)]
    api_version: Option<String>,
    /// Seconds to wait for the provider.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Print the raw OpenAI-format response JSON instead of streaming text.
    #[arg(long)]
    json: bool,
}

/// Run `llmux chat`; the error is the message to print.
pub(crate) async fn run(args: ChatArgs) -> Result<(), String> {
    let prompt = prompt_text(&args.prompt)?;
    let params = ProviderParams {
        api_key: args.api_key.clone(),
        api_base: args.api_base.clone(),
        api_version: args.api_version.clone(),
        timeout: Some(Duration::from_secs(args.timeout)),
        ..Default::default()
    };
    let resolved =
        llmux_router::resolve(&args.model, &params, &ProcessEnv).map_err(|e| e.to_string())?;

    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(ChatMessage::system(system.clone()));
    }
    messages.push(ChatMessage::user(prompt));
    let mut request = ChatCompletionRequest::new(resolved.model.clone(), messages);
    request.temperature = args.temperature;
    request.max_tokens = args.max_tokens;

    let mut stdout = tokio::io::stdout();
    if args.json {
        let response = resolved
            .provider
            .chat(request)
            .await
            .map_err(|e| e.to_string())?;
        let text = serde_json::to_string_pretty(&response).map_err(|e| e.to_string())?;
        write(&mut stdout, format!("{text}\n").as_bytes()).await?;
        return Ok(());
    }

    let mut stream = resolved
        .provider
        .chat_stream(request)
        .await
        .map_err(|e| e.to_string())?;
    let mut wrote_any = false;
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                if wrote_any {
                    write(&mut stdout, b"\n").await?;
                }
                return Err(e.to_string());
            }
        };
        for choice in chunk.choices.iter().filter(|c| c.index == 0) {
            if let Some(text) = &choice.delta.content {
                write(&mut stdout, text.as_bytes()).await?;
                wrote_any = true;
            }
        }
    }
    write(&mut stdout, b"\n").await
}

async fn write(out: &mut tokio::io::Stdout, bytes: &[u8]) -> Result<(), String> {
    out.write_all(bytes)
        .await
        .map_err(|e| format!("cannot write to stdout: {e}"))?;
    out.flush()
        .await
        .map_err(|e| format!("cannot write to stdout: {e}"))
}

/// The prompt from the arguments, else from stdin when it is not a terminal.
fn prompt_text(words: &[String]) -> Result<String, String> {
    if !words.is_empty() {
        return Ok(words.join(" "));
    }
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err("no prompt: give it as an argument or pipe it on stdin".into());
    }
    let mut text = String::new();
    stdin
        .lock()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the prompt from stdin: {e}"))?;
    let text = text.trim_end().to_string();
    if text.is_empty() {
        return Err("no prompt: stdin was empty".into());
    }
    Ok(text)
}
