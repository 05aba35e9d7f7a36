// What capture.mjs needs from AI SDK v7, resolved from this directory's node_modules.
import { registerTelemetry } from 'ai';
import { OpenTelemetry, LegacyOpenTelemetry } from '@ai-sdk/otel';

export { generateText, streamText, embed, embedMany } from 'ai';
export { createOpenAI } from '@ai-sdk/openai';
export { createAnthropic } from '@ai-sdk/anthropic';
export * from './otel.mjs';

export const major = 7;
export const maxTokensKey = 'maxOutputTokens';
export const openaiSettings = {};
export const supportsCacheTtl = true;

// v7 moved spans into @ai-sdk/otel: OpenTelemetry (gen_ai.* semantic conventions, the
// recommended one) or LegacyOpenTelemetry (the ai.* spans of v4-v6). SG_V7_INTEGRATION picks.
export function setup() {
  const legacy = process.env.SG_V7_INTEGRATION === 'legacy';
  registerTelemetry(legacy ? new LegacyOpenTelemetry() : new OpenTelemetry());
}

// v7 drops `metadata`; runtime context reaches telemetry only for the keys marked true.
export function telemetry(functionId, metadata) {
  const include = Object.fromEntries(Object.keys(metadata).map((key) => [key, true]));
  return { runtimeContext: metadata, telemetry: { functionId, includeRuntimeContext: include } };
}
