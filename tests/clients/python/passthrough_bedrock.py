"""`boto3`'s bedrock-runtime client against llmux's `/bedrock/...` pass-through.

Run by the Rust integration tests: the gateway forwards `/bedrock/model/...`
to the mock Bedrock upstream and signs it anew with its own AWS credential.
The caller's SigV4 signature is made with fake keys; the llmux key travels in
`x-litellm-api-key`. Environment: LLMUX_URL, LLMUX_KEY.
"""

import json
import os

# boto3 must find no real AWS configuration, credential or bearer token.
for name in list(os.environ):
    if name.startswith("AWS_"):
        del os.environ[name]
os.environ["AWS_CONFIG_FILE"] = "/dev/null"
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = "/dev/null"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import boto3  # noqa: E402
import botocore.config  # noqa: E402

URL = os.environ["LLMUX_URL"] + "/bedrock"
KEY = os.environ["LLMUX_KEY"]
MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Hi"}]}]

client = boto3.client(
    "bedrock-runtime",
    endpoint_url=URL,
    region_name="us-east-1",
    aws_access_key_id="AKIDCALLERFAKE",
    aws_secret_access_key="caller-secret-fake",
    config=botocore.config.Config(
        # botocore's `max_attempts` counts retries; `total_max_attempts` counts
        # every attempt, so 1 means a single request and no retry.
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=20,
        read_timeout=20,
    ),
)


def add_llmux_key(request, **_):
    request.headers["x-litellm-api-key"] = KEY


client.meta.events.register("before-sign.bedrock-runtime.*", add_llmux_key)


def show(label, value):
    print(f"{label}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}")


def usage(u):
    return [u["inputTokens"], u["outputTokens"], u["totalTokens"]]


r = client.converse(modelId=MODEL, messages=MESSAGES)
show(
    "converse",
    {
        "text": r["output"]["message"]["content"][0]["text"],
        "stopReason": r["stopReason"],
        "usage": usage(r["usage"]),
    },
)

r = client.converse_stream(modelId=MODEL, messages=MESSAGES)
deltas, stop, last_usage = [], None, None
for event in r["stream"]:
    if "contentBlockDelta" in event:
        deltas.append(event["contentBlockDelta"]["delta"]["text"])
    elif "messageStop" in event:
        stop = event["messageStop"]["stopReason"]
    elif "metadata" in event:
        last_usage = usage(event["metadata"]["usage"])
show("converse stream", {"deltas": deltas, "stopReason": stop, "usage": last_usage})

r = client.invoke_model(
    modelId=MODEL,
    body=json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "Hi"}],
        }
    ),
)
body = json.loads(r["body"].read())
show(
    "invoke",
    {
        "text": body["content"][0]["text"],
        "stop_reason": body["stop_reason"],
        "usage": [body["usage"]["input_tokens"], body["usage"]["output_tokens"]],
    },
)
