// What capture.mjs needs from AI SDK v5, resolved from this directory's node_modules.
export { generateText, streamText, embed, embedMany } from 'ai';
export { createOpenAI } from '@ai-sdk/openai';
export { createAnthropic } from '@ai-sdk/anthropic';
export * from './otel.mjs';

export const major = 5;
export const maxTokensKey = 'maxOutputTokens';
export const openaiSettings = {};
export const supportsCacheTtl = true;

export function setup() {}

export function telemetry(functionId, metadata) {
  return { experimental_telemetry: { isEnabled: true, functionId, metadata } };
}
