// The official `openai` Node package against `llmux serve`.
//
// Run by cli/tests/real_clients.rs, which starts the gateway in front of the
// mock OpenAI upstream and compares this script's stdout with the exact
// expected lines. Environment: LLMUX_URL (http://127.0.0.1:PORT), LLMUX_KEY.

import OpenAI from "openai";

const URL = `${process.env.LLMUX_URL}/v1`;
const KEY = process.env.LLMUX_KEY;
const MESSAGES = [{ role: "user", content: "Hi" }];
const WEATHER = {
  type: "function",
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: {
      type: "object",
      properties: { city: { type: "string" } },
      required: ["city"],
    },
  },
};

const client = new OpenAI({ baseURL: URL, apiKey: KEY, maxRetries: 0, timeout: 20000 });

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

const usage = (u) => (u ? [u.prompt_tokens, u.completion_tokens, u.total_tokens] : null);

// Chat, plus the gateway's own headers.
{
  const { data: r, response } = await client.chat.completions
    .create({ model: "gpt", messages: MESSAGES })
    .withResponse();
  show("chat", {
    id: r.id,
    model: r.model,
    content: r.choices[0].message.content,
    finish_reason: r.choices[0].finish_reason,
    usage: usage(r.usage),
    "x-llmux-model-group": response.headers.get("x-llmux-model-group"),
    "x-llmux-attempts": response.headers.get("x-llmux-attempts"),
  });
}

// Streaming, with and without the final usage chunk.
for (const includeUsage of [true, false]) {
  const deltas = [];
  let finish = null;
  let lastUsage = null;
  let chunks = 0;
  const stream = await client.chat.completions.create({
    model: "gpt",
    messages: MESSAGES,
    stream: true,
    ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
  });
  for await (const chunk of stream) {
    chunks += 1;
    if (chunk.usage) lastUsage = usage(chunk.usage);
    for (const choice of chunk.choices) {
      if (choice.delta.content) deltas.push(choice.delta.content);
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  show("stream", {
    include_usage: includeUsage,
    chunks,
    deltas,
    finish_reason: finish,
    usage: lastUsage,
  });
}

// Tools, plain and streamed.
{
  const r = await client.chat.completions.create({
    model: "gpt",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [WEATHER],
    tool_choice: "auto",
  });
  const call = r.choices[0].message.tool_calls[0];
  show("tools", {
    finish_reason: r.choices[0].finish_reason,
    id: call.id,
    type: call.type,
    name: call.function.name,
    arguments: JSON.parse(call.function.arguments),
  });
}
{
  const calls = new Map();
  let finish = null;
  const stream = await client.chat.completions.create({
    model: "gpt",
    messages: [{ role: "user", content: "Weather in Paris?" }],
    tools: [WEATHER],
    stream: true,
  });
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      for (const tc of choice.delta.tool_calls ?? []) {
        if (!calls.has(tc.index)) calls.set(tc.index, { id: null, name: null, arguments: "" });
        const entry = calls.get(tc.index);
        if (tc.id) entry.id = tc.id;
        if (tc.function?.name) entry.name = tc.function.name;
        if (tc.function?.arguments) entry.arguments += tc.function.arguments;
      }
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  show("tools stream", {
    finish_reason: finish,
    calls: [...calls.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([, c]) => ({ id: c.id, name: c.name, arguments: JSON.parse(c.arguments) })),
  });
}

// Embeddings: the SDK asks for base64 by default and decodes it.
{
  const e = await client.embeddings.create({ model: "embed", input: ["first", "second"] });
  show("embeddings", {
    model: e.model,
    vectors: e.data.map((d) => Array.from(d.embedding)),
    usage: [e.usage.prompt_tokens, e.usage.total_tokens],
  });
  const f = await client.embeddings.create({
    model: "embed",
    input: "one",
    encoding_format: "float",
  });
  show("embeddings float", { vectors: f.data.map((d) => d.embedding) });
}

async function error(label, call) {
  try {
    await call();
    show(label, "no error raised");
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    show(label, {
      class: err.constructor.name,
      status: err.status,
      type: err.type ?? null,
      code: err.code ?? null,
      param: err.param ?? null,
      message: err.error?.message ?? null,
    });
  }
}

await error("error 401", () =>
  new OpenAI({ baseURL: URL, apiKey: "sk-wrong", maxRetries: 0 }).chat.completions.create({
    model: "gpt",
    messages: MESSAGES,
  }),
);
await error("error 404", () =>
  client.chat.completions.create({ model: "no-such-model", messages: MESSAGES }),
);
await error("error 400", () =>
  client.chat.completions.create({ model: "gpt", messages: MESSAGES, temperature: "hot" }),
);
await error("error 429", () =>
  client.chat.completions.create({ model: "limited", messages: MESSAGES }),
);
await error("error 404 models", () => client.models.retrieve("no-such-model"));

// Models.
{
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  show("models", ids.sort());
}
