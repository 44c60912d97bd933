// Drives a locallm server with OpenAI's official JS client and prints what
// it got back as one JSON object; llm/server/js_test.go checks it.
//
//   node e2e.mjs BASE_URL API_KEY MODEL SCHEMA_JSON TOOL_PARAMS_JSON
import OpenAI from "openai";

const [baseURL, apiKey, model, schemaText, paramsText] = process.argv.slice(2);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const user = (content) => [{ role: "user", content }];
const out = {};

const models = await client.models.list();
out.models = models.data.map((m) => m.id);

const chat = await client.chat.completions.create({
  model, messages: user("Name a colour."), n: 3, max_tokens: 10, temperature: 0.8, seed: 1,
});
out.chat = { n: chat.choices.length, indices: chat.choices.map((c) => c.index), usage: chat.usage };

const schema = await client.chat.completions.create({
  model, messages: user("A person as JSON."), n: 4, max_tokens: 40,
  response_format: { type: "json_schema", json_schema: { name: "person", schema: JSON.parse(schemaText), strict: true } },
});
out.schema = schema.choices.map((c) => c.message.content);

const object = await client.chat.completions.create({
  model, messages: user("JSON please."), max_tokens: 20, response_format: { type: "json_object" },
});
out.object = object.choices.map((c) => c.message.content);

const stream = await client.chat.completions.create({
  model, messages: user("Tell a story."), max_tokens: 12, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let streamed = "";
let streamUsage = null;
let chunks = 0;
for await (const chunk of stream) {
  chunks++;
  for (const c of chunk.choices) streamed += c.delta?.content ?? "";
  if (chunk.usage) streamUsage = chunk.usage;
}
const whole = await client.chat.completions.create({
  model, messages: user("Tell a story."), max_tokens: 12, temperature: 0,
});
out.stream = { chunks, text: streamed, usage: streamUsage, whole: whole.choices[0].message.content };

const lp = await client.chat.completions.create({
  model, messages: user("Hi"), max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2,
});
out.logprobs = { content: lp.choices[0].logprobs?.content ?? null, text: lp.choices[0].message.content };

const tool = await client.chat.completions.create({
  model, messages: user("Weather in Oslo?"), max_tokens: 30,
  tools: [{ type: "function", function: { name: "forecast", description: "Weather forecast", parameters: JSON.parse(paramsText) } }],
  tool_choice: { type: "function", function: { name: "forecast" } },
});
out.tool = { finish: tool.choices[0].finish_reason, calls: tool.choices[0].message.tool_calls };

const completion = await client.completions.create({
  model, prompt: ["Once upon a time", "The end"], n: 2, max_tokens: 6,
});
out.completion = { n: completion.choices.length, indices: completion.choices.map((c) => c.index) };

const emb = await client.embeddings.create({ model, input: ["a cat", "a dog"] });
out.embeddings = emb.data.map((d) => d.embedding.length);
const emb64 = await client.embeddings.create({ model, input: "a cat", encoding_format: "base64" });
out.embeddingBase64 = typeof emb64.data[0].embedding;

try {
  await client.chat.completions.create({ model, messages: user("Hi"), temperature: 9 });
  out.error = null;
} catch (e) {
  out.error = { status: e.status, param: e.param, type: e.type, message: e.message };
}

const many = await Promise.all(Array.from({ length: 8 }, (_, i) =>
  client.chat.completions.create({ model, messages: user(`q${i}`), max_tokens: 6 })));
out.concurrent = many.map((r) => r.choices.length);

process.stdout.write(JSON.stringify(out));
