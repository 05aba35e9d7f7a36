"""Agent-side instrumentation of LLM SDKs (see the instrumentation issue)."""
