"""The `google-genai` Python package against llmux's `/gemini/...` pass-through.

Run by the Rust integration tests: the gateway forwards `/gemini/v1beta/...`
untouched to the mock Gemini upstream, swapping the llmux key (sent by the SDK
as `x-goog-api-key`) for its own credential. Environment: LLMUX_URL, LLMUX_KEY.
"""

import json
import os

# Nothing from the environment may steer the SDK elsewhere (Vertex AI, another
# key, another API version or HTTP backend).
for name in list(os.environ):
    if name.startswith(("GOOGLE_", "GEMINI_")):
        del os.environ[name]

from google import genai  # noqa: E402
from google.genai import types  # noqa: E402

URL = os.environ["LLMUX_URL"] + "/gemini"
KEY = os.environ["LLMUX_KEY"]
MODEL = "gemini-2.5-flash"

# api_version is explicit: the SDK's default for the Gemini API is `v1`.
# timeout is in milliseconds; retry_options=None means a single attempt.
client = genai.Client(
    api_key=KEY,
    http_options=types.HttpOptions(base_url=URL, api_version="v1beta", timeout=20_000),
)


def show(label, value):
    print(f"{label}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}")


def usage(u):
    return None if u is None else [u.prompt_token_count, u.candidates_token_count]


r = client.models.generate_content(model=MODEL, contents="Hi")
show(
    "generate",
    {
        "text": r.text,
        "finish_reason": r.candidates[0].finish_reason,
        "usage": usage(r.usage_metadata),
    },
)

texts, last_usage = [], None
for chunk in client.models.generate_content_stream(model=MODEL, contents="Hi"):
    if chunk.text:
        texts.append(chunk.text)
    if chunk.usage_metadata is not None:
        last_usage = usage(chunk.usage_metadata)
show("generate stream", {"texts": texts, "usage": last_usage})

e = client.models.embed_content(model="gemini-embedding-001", contents="Hi")
show("embed", {"len": len(e.embeddings[0].values)})
