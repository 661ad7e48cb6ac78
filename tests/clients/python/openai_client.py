"""The official `openai` Python package against `llmux serve`.

Run by cli/tests/real_clients.rs, which starts the gateway in front of the mock
OpenAI upstream and compares this script's stdout with the exact expected
lines. Environment: LLMUX_URL (http://127.0.0.1:PORT), LLMUX_KEY (master key).
"""

import json
import os

import openai
from openai import OpenAI

URL = os.environ["LLMUX_URL"] + "/v1"
KEY = os.environ["LLMUX_KEY"]
MESSAGES = [{"role": "user", "content": "Hi"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

client = OpenAI(base_url=URL, api_key=KEY, max_retries=0, timeout=20)


def show(label, value):
    print(f"{label}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}")


def usage(u):
    return None if u is None else [u.prompt_tokens, u.completion_tokens, u.total_tokens]


# Chat, plus the gateway's own headers through the raw-response API.
raw = client.chat.completions.with_raw_response.create(model="gpt", messages=MESSAGES)
r = raw.parse()
show(
    "chat",
    {
        "id": r.id,
        "model": r.model,
        "content": r.choices[0].message.content,
        "finish_reason": r.choices[0].finish_reason,
        "usage": usage(r.usage),
        "x-llmux-model-group": raw.headers.get("x-llmux-model-group"),
        "x-llmux-attempts": raw.headers.get("x-llmux-attempts"),
    },
)

# Streaming, with and without the final usage chunk.
for include_usage in (True, False):
    deltas, finish, last_usage, chunks = [], None, None, 0
    kwargs = {"stream_options": {"include_usage": True}} if include_usage else {}
    for chunk in client.chat.completions.create(
        model="gpt", messages=MESSAGES, stream=True, **kwargs
    ):
        chunks += 1
        if chunk.usage is not None:
            last_usage = usage(chunk.usage)
        for choice in chunk.choices:
            if choice.delta.content:
                deltas.append(choice.delta.content)
            if choice.finish_reason:
                finish = choice.finish_reason
    show(
        "stream",
        {
            "include_usage": include_usage,
            "chunks": chunks,
            "deltas": deltas,
            "finish_reason": finish,
            "usage": last_usage,
        },
    )

# Tools, plain and streamed.
r = client.chat.completions.create(
    model="gpt",
    messages=[{"role": "user", "content": "Weather in Paris?"}],
    tools=[WEATHER],
    tool_choice="auto",
)
call = r.choices[0].message.tool_calls[0]
show(
    "tools",
    {
        "finish_reason": r.choices[0].finish_reason,
        "id": call.id,
        "type": call.type,
        "name": call.function.name,
        "arguments": json.loads(call.function.arguments),
    },
)
calls = {}
finish = None
for chunk in client.chat.completions.create(
    model="gpt",
    messages=[{"role": "user", "content": "Weather in Paris?"}],
    tools=[WEATHER],
    stream=True,
):
    for choice in chunk.choices:
        for tc in choice.delta.tool_calls or []:
            entry = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            if tc.id:
                entry["id"] = tc.id
            if tc.function and tc.function.name:
                entry["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                entry["arguments"] += tc.function.arguments
        if choice.finish_reason:
            finish = choice.finish_reason
show(
    "tools stream",
    {
        "finish_reason": finish,
        "calls": [
            {"id": c["id"], "name": c["name"], "arguments": json.loads(c["arguments"])}
            for _, c in sorted(calls.items())
        ],
    },
)

# Embeddings: the SDK asks for base64 by default and decodes it.
e = client.embeddings.create(model="embed", input=["first", "second"])
show(
    "embeddings",
    {
        "model": e.model,
        "vectors": [d.embedding for d in e.data],
        "usage": [e.usage.prompt_tokens, e.usage.total_tokens],
    },
)
e = client.embeddings.create(model="embed", input="one", encoding_format="float")
show("embeddings float", {"vectors": [d.embedding for d in e.data]})


def error(label, call):
    try:
        call()
    except openai.APIStatusError as err:
        body = err.body if isinstance(err.body, dict) else {}
        show(
            label,
            {
                "class": type(err).__name__,
                "status": err.status_code,
                "type": body.get("type"),
                "code": err.code,
                "param": err.param,
                "message": body.get("message"),
            },
        )
    else:
        show(label, "no error raised")


error(
    "error 401",
    lambda: OpenAI(base_url=URL, api_key="sk-wrong", max_retries=0).chat.completions.create(
        model="gpt", messages=MESSAGES
    ),
)
error(
    "error 404",
    lambda: client.chat.completions.create(model="no-such-model", messages=MESSAGES),
)
error(
    "error 400",
    lambda: client.chat.completions.create(model="gpt", messages=MESSAGES, temperature="hot"),
)
error(
    "error 429",
    lambda: client.chat.completions.create(model="limited", messages=MESSAGES),
)
error(
    "error 404 models",
    lambda: client.models.retrieve("no-such-model"),
)

# Models.
show("models", sorted(m.id for m in client.models.list()))
