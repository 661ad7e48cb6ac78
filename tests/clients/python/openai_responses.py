"""The official `openai` Python package's Responses API against `llmux serve`.

Run by cli/tests/real_clients.rs, which starts the gateway with two model
groups: `gpt` (an OpenAI upstream: native), `claude` (Anthropic), `gemini`
and `bedrock` (Converse), the last three translated through chat. The same scenario runs on both; this script's stdout is
compared with the exact expected lines. Environment: LLMUX_URL, LLMUX_KEY.
"""

import json
import os

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["LLMUX_URL"] + "/v1", api_key=os.environ["LLMUX_KEY"],
                max_retries=0, timeout=20)
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def show(label, value):
    print(f"{label}: {json.dumps(value, sort_keys=True, separators=(',', ':'))}")


for model in ["gpt", "claude", "gemini", "bedrock"]:
    r = client.responses.create(model=model, input="Hi")
    show(f"{model} create", [r.object, r.status, r.output_text, r.usage.input_tokens > 0,
                             r.usage.output_tokens > 0])

    text, kinds, seqs, final = "", [], [], None
    for event in client.responses.create(model=model, input="Hi", stream=True):
        kinds.append(event.type)
        seqs.append(event.sequence_number)
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            final = event.response
    show(f"{model} stream", [kinds[0], kinds[-1], text, final.output_text == text,
                             seqs == list(range(len(seqs)))])

    call = client.responses.create(model=model, input="Weather in Paris?", tools=[WEATHER])
    fc = [o for o in call.output if o.type == "function_call"][0]
    answer = client.responses.create(
        model=model, tools=[WEATHER], previous_response_id=call.id,
        input=[{"type": "function_call_output", "call_id": fc.call_id, "output": "21C sunny"}])
    show(f"{model} tool", [fc.name, json.loads(fc.arguments), answer.output_text,
                           answer.previous_response_id == call.id])

    r1 = client.responses.create(model=model, input="My name is Ada.")
    r2 = client.responses.create(model=model, input="Remember it.", previous_response_id=r1.id)
    r3 = client.responses.create(model=model, input="What is my name?", previous_response_id=r2.id)
    items = list(client.responses.input_items.list(r3.id, order="asc"))
    show(f"{model} chain", [r2.previous_response_id == r1.id, r3.previous_response_id == r2.id,
                            len(items), [getattr(i, "role", None) for i in items]])
    show(f"{model} retrieve", client.responses.retrieve(r3.id).id == r3.id)
    client.responses.delete(r3.id)
    try:
        client.responses.retrieve(r3.id)
        show(f"{model} after delete", "still there")
    except openai.NotFoundError as e:
        show(f"{model} after delete", [e.status_code, e.body["message"] == f"Response with id '{r3.id}' not found."])
