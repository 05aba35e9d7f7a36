// What capture.mjs needs from AI SDK v4, resolved from this directory's node_modules.
export { generateText, streamText, embed, embedMany } from 'ai';
export { createOpenAI } from '@ai-sdk/openai';
export { createAnthropic } from '@ai-sdk/anthropic';
export * from './otel.mjs';

export const major = 4;
export const maxTokensKey = 'maxTokens';
// createOpenAI defaults to 'compatible', which leaves out stream_options.include_usage;
// the default `openai` instance is 'strict', so this is what an app talking to OpenAI gets.
export const openaiSettings = { compatibility: 'strict' };
// v4's Anthropic provider knows no cache TTL: only the default 5-minute cache can be asked for.
export const supportsCacheTtl = false;

export function setup() {}

export function telemetry(functionId, metadata) {
  return { experimental_telemetry: { isEnabled: true, functionId, metadata } };
}
