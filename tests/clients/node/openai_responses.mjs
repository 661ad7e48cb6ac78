// The official `openai` Node package's Responses API against `llmux serve`:
// the same scenario, and the same output lines, as
// tests/clients/python/openai_responses.py (run by cli/tests/real_clients.rs
// with model groups gpt (native), claude, gemini and bedrock (translated)).

import OpenAI from "openai";

const client = new OpenAI({
  baseURL: `${process.env.LLMUX_URL}/v1`,
  apiKey: process.env.LLMUX_KEY,
  maxRetries: 0,
  timeout: 20000,
});
const WEATHER = {
  type: "function",
  name: "get_weather",
  description: "Current weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

// JSON with sorted keys and no spaces, like the Python script's output.
function stable(value) {
  if (Array.isArray(value)) return `[${value.map(stable).join(",")}]`;
  if (value && typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${stable(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value === undefined ? null : value);
}

function show(label, value) {
  console.log(`${label}: ${stable(value)}`);
}

for (const model of ["gpt", "claude", "gemini", "bedrock"]) {
  const r = await client.responses.create({ model, input: "Hi" });
  show(`${model} create`, [r.object, r.status, r.output_text, r.usage.input_tokens > 0,
    r.usage.output_tokens > 0]);

  let text = "";
  const kinds = [];
  const seqs = [];
  let final = null;
  for await (const event of await client.responses.create({ model, input: "Hi", stream: true })) {
    kinds.push(event.type);
    seqs.push(event.sequence_number);
    if (event.type === "response.output_text.delta") text += event.delta;
    if (event.type === "response.completed") final = event.response;
  }
  const finalText = final.output
    .filter((o) => o.type === "message")
    .flatMap((o) => o.content.filter((c) => c.type === "output_text").map((c) => c.text))
    .join("");
  show(`${model} stream`, [kinds[0], kinds[kinds.length - 1], text, finalText === text,
    seqs.every((s, i) => s === i)]);

  const call = await client.responses.create({ model, input: "Weather in Paris?", tools: [WEATHER] });
  const fc = call.output.find((o) => o.type === "function_call");
  const answer = await client.responses.create({
    model, tools: [WEATHER], previous_response_id: call.id,
    input: [{ type: "function_call_output", call_id: fc.call_id, output: "21C sunny" }],
  });
  show(`${model} tool`, [fc.name, JSON.parse(fc.arguments), answer.output_text,
    answer.previous_response_id === call.id]);

  const r1 = await client.responses.create({ model, input: "My name is Ada." });
  const r2 = await client.responses.create({ model, input: "Remember it.", previous_response_id: r1.id });
  const r3 = await client.responses.create({ model, input: "What is my name?", previous_response_id: r2.id });
  const items = [];
  for await (const item of client.responses.inputItems.list(r3.id, { order: "asc" })) items.push(item);
  show(`${model} chain`, [r2.previous_response_id === r1.id, r3.previous_response_id === r2.id,
    items.length, items.map((i) => i.role ?? null)]);
  show(`${model} retrieve`, (await client.responses.retrieve(r3.id)).id === r3.id);
  await client.responses.delete(r3.id);
  try {
    await client.responses.retrieve(r3.id);
    show(`${model} after delete`, "still there");
  } catch (e) {
    show(`${model} after delete`, [e.status, e.error?.message === `Response with id '${r3.id}' not found.`]);
  }
}
