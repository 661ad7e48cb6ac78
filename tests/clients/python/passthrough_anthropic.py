"""The `anthropic` Python package against llmux's `/anthropic/...` pass-through.

Run by the Rust integration tests: the gateway forwards `/anthropic/v1/...`
untouched to the mock Anthropic upstream, swapping the llmux key for its own
credential. Environment: LLMUX_URL, LLMUX_KEY.
"""

import json
import os
import warnings

import anthropic

# The SDK warns (on stderr) that this model name is deprecated; the name is
# only a label the pass-through forwards untouched.
warnings.filterwarnings("ignore", message="The model .* is deprecated", category=DeprecationWarning)

URL = os.environ["LLMUX_URL"] + "/anthropic"
KEY = os.environ["LLMUX_KEY"]
MODEL = "claude-sonnet-4-5"
MESSAGES = [{"role": "user", "content": "Hi"}]

client = anthropic.Anthropic(base_url=URL, api_key=KEY, max_retries=0, timeout=20)


def show(label, value):
    print(f"{label}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}")


def message(m):
    return {
        "model": m.model,
        "content": [b.model_dump(exclude_none=True) for b in m.content],
        "stop_reason": m.stop_reason,
        "usage": [m.usage.input_tokens, m.usage.output_tokens],
    }


m = client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
show("messages", message(m))

with client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
    texts = list(stream.text_stream)
    final = stream.get_final_message()
show("messages stream", {"texts": texts, "final": message(final)})
