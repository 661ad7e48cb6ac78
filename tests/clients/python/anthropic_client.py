"""The `anthropic` Python package against llmux's `/v1/messages`.

Run by cli/tests/real_clients.rs: the gateway translates Anthropic's Messages
API onto the mock OpenAI upstream. Environment: LLMUX_URL, LLMUX_KEY.
"""

import json
import os

import anthropic

URL = os.environ["LLMUX_URL"]
KEY = os.environ["LLMUX_KEY"]
MESSAGES = [{"role": "user", "content": "Hi"}]

client = anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0, timeout=20)


def show(label, value):
    print(f"{label}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}")


def message(m):
    return {
        "type": m.type,
        "role": m.role,
        "model": m.model,
        "content": [b.model_dump(exclude_none=True) for b in m.content],
        "stop_reason": m.stop_reason,
        "stop_sequence": m.stop_sequence,
        "usage": [m.usage.input_tokens, m.usage.output_tokens],
    }


m = client.messages.create(model="gpt", max_tokens=64, messages=MESSAGES)
show("messages", message(m))

m = client.messages.create(
    model="gpt", max_tokens=64, system="Be brief.", messages=MESSAGES
)
show("messages system", message(m))

with client.messages.stream(model="gpt", max_tokens=64, messages=MESSAGES) as stream:
    texts = list(stream.text_stream)
    final = stream.get_final_message()
show("messages stream", {"texts": texts, "final": message(final)})

events = []
for event in client.messages.create(
    model="gpt", max_tokens=64, messages=MESSAGES, stream=True
):
    events.append(event.type)
show("messages stream events", events)

# Tools: the upstream's OpenAI tool call comes back as a tool_use block.
m = client.messages.create(
    model="gpt",
    max_tokens=64,
    messages=[{"role": "user", "content": "Weather in Paris?"}],
    tools=[
        {
            "name": "get_weather",
            "description": "Current weather for a city",
            "input_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }
    ],
)
show("messages tools", message(m))


def error(label, call):
    try:
        call()
    except anthropic.APIStatusError as err:
        body = err.body if isinstance(err.body, dict) else {}
        show(
            label,
            {
                "class": type(err).__name__,
                "status": err.status_code,
                "body": body,
            },
        )
    else:
        show(label, "no error raised")


error(
    "error 401",
    lambda: anthropic.Anthropic(base_url=URL, api_key="sk-wrong", max_retries=0).messages.create(
        model="gpt", max_tokens=64, messages=MESSAGES
    ),
)
error(
    "error 404",
    lambda: client.messages.create(model="no-such-model", max_tokens=64, messages=MESSAGES),
)
error(
    "error 400",
    lambda: client.messages.create(model="gpt", max_tokens="many", messages=MESSAGES),
)
