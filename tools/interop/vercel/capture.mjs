// Runs one interop case with a real Vercel AI SDK against spendgate's fake provider and
// exports its spans over OTLP/HTTP (protobuf). Driven by tools/interop/capture_vercel.py:
//
//   node capture.mjs <version dir> <case>
//
// The version directory (v4, v5, ...) holds the pinned packages and an sdk.mjs adapter that
// irons out the API differences between majors; bare imports only resolve from there.
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};

const [versionDir, caseName] = process.argv.slice(2);
const sdk = await import(pathToFileURL(path.resolve(versionDir, 'sdk.mjs')).href);

const LONG_CONTEXT = 'You are a careful assistant for the spendgate interop suite. '.repeat(40);

function startTracing() {
  const exporter = new sdk.OTLPTraceExporter({ url: `${env('SG_OTLP_ENDPOINT')}/v1/traces` });
  const provider = new sdk.NodeTracerProvider({
    resource: sdk.resourceFromAttributes({
      'service.name': 'spendgate-interop-vercel',
      'service.version': `v${sdk.major}`,
    }),
    spanProcessors: [new sdk.BatchSpanProcessor(exporter)],
  });
  provider.register();
  sdk.setup();
  return provider;
}

function providers() {
  const settings = { baseURL: env('SG_OPENAI_URL'), apiKey: 'sk-interop', ...sdk.openaiSettings };
  const openai = sdk.createOpenAI(settings);
  const anthropic = sdk.createAnthropic({ baseURL: env('SG_ANTHROPIC_URL'), apiKey: 'sk-ant-interop' });
  return { openai, anthropic };
}

function traced(name) {
  return {
    maxRetries: 0, // a retry would be a second billable call the fixture does not list
    ...sdk.telemetry(`interop-${name}`, { case: name, tenant: 'interop-tenant' }),
  };
}

function common(name) {
  return { [sdk.maxTokensKey]: 200, ...traced(name) };
}

// A user message whose long first part is marked for caching (optionally with a 1-hour TTL).
function cachedMessages(ttl) {
  const cacheControl = ttl ? { type: 'ephemeral', ttl } : { type: 'ephemeral' };
  return [
    {
      role: 'user',
      content: [
        { type: 'text', text: LONG_CONTEXT, providerOptions: { anthropic: { cacheControl } } },
        { type: 'text', text: 'Say hello.' },
      ],
    },
  ];
}

async function finishStream(result) {
  let text = '';
  for await (const piece of result.textStream) text += piece;
  return { text, usage: await result.usage, providerMetadata: await result.providerMetadata };
}

function summary(result) {
  return { text: result.text, usage: result.usage, providerMetadata: result.providerMetadata };
}

const generate = async (options) => summary(await sdk.generateText(options));
const stream = (options) => finishStream(sdk.streamText(options));
const SAY_HELLO = { prompt: 'Say hello.' };

const CASES = {
  chat: ({ openai }) => generate({ model: openai.chat('gpt-4o-mini'), ...SAY_HELLO, ...common('chat') }),
  stream: ({ openai }) => stream({ model: openai.chat('gpt-4o-mini'), ...SAY_HELLO, ...common('stream') }),
  anthropic_cached: ({ anthropic }) =>
    generate({ model: anthropic('claude-sonnet-4-5'), messages: cachedMessages(), ...common('anthropic_cached') }),
  anthropic_cache_1h: ({ anthropic }) => {
    if (!sdk.supportsCacheTtl) return { skipped: 'this provider version cannot ask for a 1-hour cache' };
    const messages = cachedMessages('1h');
    return generate({ model: anthropic('claude-sonnet-4-5'), messages, ...common('anthropic_cache_1h') });
  },
  anthropic_stream: ({ anthropic }) =>
    stream({ model: anthropic('claude-sonnet-4-5'), messages: cachedMessages(), ...common('anthropic_stream') }),
  // The provider's default API for the model id: Chat Completions in v4, Responses from v5 on.
  reasoning: ({ openai }) =>
    generate({ model: openai('o4-mini'), prompt: 'Think, then say hello.', ...common('reasoning') }),
  responses: ({ openai }) => generate({ model: openai.responses('gpt-4o'), ...SAY_HELLO, ...common('responses') }),
  async embeddings({ openai }) {
    const model = openai.embedding('text-embedding-3-small');
    const one = await sdk.embed({ model, value: 'hello', ...traced('embeddings') });
    const many = await sdk.embedMany({ model, values: ['a', 'b', 'c'], ...traced('embeddings') });
    return { embed: one.usage, embedMany: many.usage };
  },
};

async function main() {
  const run = CASES[caseName];
  if (!run) throw new Error(`unknown case ${caseName}; known: ${Object.keys(CASES).join(', ')}`);
  const tracing = startTracing();
  try {
    const outcome = await run(providers());
    process.stdout.write(`${JSON.stringify({ case: caseName, ...outcome })}\n`);
  } finally {
    await tracing.forceFlush();
    await tracing.shutdown();
  }
}

await main();
