"""One pricer for the collector and the agent (catalogue lookup, price plans, config overrides).

Light on purpose: it needs genai-prices and the standard library only, so agents can import it
without the collector (chDB, FastAPI) and the collector without the instrumentation.
"""
