"""The OpenAI Files and Batch APIs on the data plane (`/api/llm/files`, `/api/llm/batches`).

A batch is executed by the gateway itself: every request line goes through the same `Pipeline` as a
live request (routing, limits, budgets, guardrails, request logs, cost), as the token that created the
batch, a few lines at a time (`runner.py`). Files and batches are kept in the control-plane store
(`schema.py`, `records.py`) so that a restart loses nothing and resumes every unfinished batch.
Modules import what they need directly; this package face imports nothing, so the store's migrations
can read `schema.py` without loading the runner.
"""
