"""The `openai` Python package against llmux's `/openai/...` pass-through.

Run by the Rust integration tests: the gateway forwards `/openai/v1/...`
untouched to the mock OpenAI upstream, swapping the llmux key for its own
credential. Environment: LLMUX_URL, LLMUX_KEY.
"""

import json
import os

from openai import OpenAI

URL = os.environ["LLMUX_URL"] + "/openai/v1"
KEY = os.environ["LLMUX_KEY"]
MESSAGES = [{"role": "user", "content": "Hi"}]

client = OpenAI(base_url=URL, api_key=KEY, max_retries=0, timeout=20)


def show(label, value):
    print(f"{label}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}")


def usage(u):
    return None if u is None else [u.prompt_tokens, u.completion_tokens]


r = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
show(
    "chat",
    {
        "model": r.model,
        "content": r.choices[0].message.content,
        "finish_reason": r.choices[0].finish_reason,
        "usage": usage(r.usage),
    },
)

deltas, finish, last_usage = [], None, None
for chunk in client.chat.completions.create(
    model="gpt-4o-mini",
    messages=MESSAGES,
    stream=True,
    stream_options={"include_usage": True},
):
    if chunk.usage is not None:
        last_usage = usage(chunk.usage)
    for choice in chunk.choices:
        if choice.delta.content:
            deltas.append(choice.delta.content)
        if choice.finish_reason:
            finish = choice.finish_reason
show("chat stream", {"deltas": deltas, "finish_reason": finish, "usage": last_usage})

e = client.embeddings.create(model="text-embedding-3-small", input="Hi")
show(
    "embeddings",
    {
        "model": e.model,
        "len": len(e.data[0].embedding),
        "usage": [e.usage.prompt_tokens, e.usage.total_tokens],
    },
)
