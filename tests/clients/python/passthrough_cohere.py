"""The `cohere` Python package (v2 client) against llmux's `/cohere/...` pass-through.

Run by the Rust integration tests: the gateway forwards `/cohere/v2/...`
untouched to the mock Cohere upstream, swapping the llmux key for its own
credential. Environment: LLMUX_URL, LLMUX_KEY.
"""

import json
import os

for name in ("CO_API_URL", "CO_API_KEY"):
    os.environ.pop(name, None)

import cohere  # noqa: E402

URL = os.environ["LLMUX_URL"] + "/cohere"
KEY = os.environ["LLMUX_KEY"]
MESSAGES = [{"role": "user", "content": "Hi"}]

client = cohere.ClientV2(api_key=KEY, base_url=URL, max_retries=0, timeout=20)


def show(label, value):
    print(f"{label}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}")


def count(n):
    return None if n is None else int(n)


def usage(u):
    b = u.billed_units
    return [count(b.input_tokens), count(b.output_tokens)]


r = client.chat(model="command-a-03-2025", messages=MESSAGES)
show(
    "chat",
    {
        "text": r.message.content[0].text,
        "finish_reason": r.finish_reason,
        "usage": usage(r.usage),
    },
)

deltas, finish, last_usage = [], None, None
for event in client.chat_stream(model="command-a-03-2025", messages=MESSAGES):
    if event.type == "content-delta":
        deltas.append(event.delta.message.content.text)
    elif event.type == "message-end":
        finish = event.delta.finish_reason
        last_usage = usage(event.delta.usage)
show("chat stream", {"deltas": deltas, "finish_reason": finish, "usage": last_usage})

e = client.embed(
    model="embed-english-v3.0",
    texts=["Hi"],
    input_type="search_query",
    embedding_types=["float"],
)
show("embed", {"len": len(e.embeddings.float_[0])})

r = client.rerank(model="rerank-english-v3.0", query="q", documents=["a", "b"])
show(
    "rerank",
    {
        "indexes": [x.index for x in r.results],
        "search_units": count(r.meta.billed_units.search_units),
    },
)
