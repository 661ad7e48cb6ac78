"""The `anthropic` Python package on llmux's native `/v1/messages` path.

Run by cli/tests/real_clients.rs: the model group `claude` is served by an
Anthropic upstream (the mock), so the gateway forwards the client's body as
it came. Covers plain and streamed messages, extended thinking over two
turns (the signed thinking block sent back), a beta feature, and
count_tokens. Environment: LLMUX_URL, LLMUX_KEY.
"""

import json
import os
import warnings

import anthropic

warnings.simplefilter("ignore", DeprecationWarning)

URL = os.environ["LLMUX_URL"]
KEY = os.environ["LLMUX_KEY"]
MESSAGES = [{"role": "user", "content": "Hi"}]

client = anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0, timeout=20)


def show(label, value):
    print(f"{label}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}")


def blocks(m):
    return [b.model_dump(exclude_none=True) for b in m.content]


m = client.messages.create(model="claude", max_tokens=64, messages=MESSAGES)
show("messages", {"content": blocks(m), "model": m.model, "usage": [m.usage.input_tokens, m.usage.output_tokens]})

with client.messages.stream(model="claude", max_tokens=64, messages=MESSAGES) as stream:
    texts = list(stream.text_stream)
    final = stream.get_final_message()
show("stream", {"texts": texts, "stop_reason": final.stop_reason, "usage": [final.usage.input_tokens, final.usage.output_tokens]})

thinking = {"type": "enabled", "budget_tokens": 1024}
first = client.messages.create(
    model="claude", max_tokens=2048, thinking=thinking,
    messages=[{"role": "user", "content": "Think, then say hi."}],
)
show("thinking turn 1", blocks(first))
second = client.messages.create(
    model="claude", max_tokens=2048, thinking=thinking,
    messages=[
        {"role": "user", "content": "Think, then say hi."},
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "Again."},
    ],
)
show("thinking turn 2", blocks(second))

beta = client.beta.messages.create(
    model="claude", max_tokens=64, messages=MESSAGES,
    betas=["context-management-2025-06-27"],
    context_management={"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
)
show("beta", {"content": blocks(beta)})

counted = client.messages.count_tokens(model="claude", messages=MESSAGES, system="Be brief.")
show("count_tokens", counted.input_tokens)
