"""A fast, deterministic fake LLM provider for tests, demos and benchmarks.

It speaks six wire formats on one port:
- OpenAI: POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/moderations, /v1/rerank
  (Cohere style, also /v2/rerank), /v1/images/generations, /v1/audio/speech, /v1/audio/transcriptions;
  GET /v1/models. Auth: `Authorization: Bearer <key>`, checked only when a key is required.
- Anthropic: POST /v1/messages (needs `x-api-key` and `anthropic-version`); GET /v1/models with
  `anthropic-version` answers in Anthropic's list format.
- Azure OpenAI: POST /openai/deployments/{deployment}/{chat/completions,completions,embeddings}
  (needs `?api-version=` and the `api-key` header; the deployment name is the model).
- Gemini API: POST /{v1,v1beta}/models/{model}:generateContent and :streamGenerateContent?alt=sse
  (`x-goog-api-key` or `?key=`). Vertex AI: POST /{v1,v1beta1}/projects/{p}/locations/{l}/publishers/
  {pub}/models/{model}:{generateContent,streamGenerateContent,rawPredict,streamRawPredict} (Bearer
  token; publisher anthropic: Anthropic Messages), and POST /token, Google's OAuth token endpoint for a
  service account's JWT grant (the tokens it issues are the ones Vertex accepts when a key is
  required). Google errors: `{"error":{"code","message","status","details"}}`.
- AWS Bedrock: POST /model/{modelId}/converse and /converse-stream (answered in AWS event-stream
  frames); needs `Authorization: Bearer <key>` or a SigV4 `Authorization` with `X-Amz-Date`.
Errors use each provider's own body: OpenAI `{"error":{"message","type","param","code"}}`, Anthropic
`{"type":"error","error":{"type","message"}}`, Azure `{"error":{"code","message"}}`, Bedrock
`{"message"}` with the exception in `x-amzn-ErrorType`.

Knobs: one spec syntax `name=value,name=value`, carried in either (or both) of
- a path prefix: `/knobs/<spec>/v1/chat/completions` (put it in a provider account's base_url, e.g.
  `http://127.0.0.1:9000/knobs/latency_ms=50/v1`, to shape a whole account), or
- the model id after `@`: `"model": "gpt-4o@tokens=5,status=503"` (shapes one integration; for Azure,
  the deployment name). The model's knobs override the path's; responses report the base model id.

| knob | meaning |
|---|---|
| latency_ms | delay before anything is answered (including injected errors) |
| ttft_ms | time to first token: non-streaming replies wait ttft + tpot * (tokens - 1) |
| tpot_ms | time per output token after the first (streams are paced against absolute deadlines) |
| tokens | completion length in tokens (default 16), capped by max_tokens / max_completion_tokens |
| chunk_tokens | tokens per stream delta (default 1) |
| status | HTTP status of the injected error (400..599) |
| fail_first | the first N requests fail, later ones succeed (retry tests) |
| error_every | every Nth request fails |
| error_rate | a fraction of requests fail, drawn from a Random(seed) sequence |
| seed | seed for error_rate (default 0) |
| retry_after | seconds for the `retry-after` header on injected errors; alone it means status 429 |
| api_key | the API key this request must carry (tests that credentials are forwarded) |
| drop_after | streams only: abort the connection after N output tokens |
| linger_ms | streams only (OpenAI wire): keep the connection open this long after [DONE] or response.completed |
| cut_after | streams only (OpenAI, Bedrock wire): end the body cleanly after N output tokens, unfinished |
| cached_tokens | report N prompt tokens as cache reads |
| context_tokens | context window: a longer chat (prompt + max_tokens) is a 400 `context_length_exceeded` |
| error_after | streams only (Bedrock wire): a modelStreamErrorException frame after N output tokens, then the end |

With `status` (or `retry_after`) and no `fail_first`/`error_every`/`error_rate`, every request fails;
`fail_first`/`error_every` alone fail with 500. Each distinct (path spec, model spec) pair has its own
request counter and random sequence, so runs are reproducible; `POST /_fake/reset` restarts them.

Deterministic content (see `synth`): prompt tokens = ceil(prompt characters / 4); the reply is words
"Fake reply from <model>: <last user words> lorem ipsum ..."; a tool is called when tools are offered
and `tool_choice` forces one, or the last message is the user's and names a tool or says "tool".

Introspection: `GET /_fake/requests` lists recent requests (credential headers replaced by a
sha256 fingerprint), `GET /_fake/stats` counts requests and clients that went away before the
response was complete (mid-stream, or while a `latency_ms` was still being waited out),
`POST /_fake/reset` clears all of them and the fault counters, `GET /health`.

Run it: `tfy-gateway fake-provider --port 9000`, or in-process `with running() as base_url: ...`.
"""

from tfy_gateway.fakeprovider.app import create_fake_provider_app
from tfy_gateway.fakeprovider.knobs import KNOB_NAMES, KnobError, Knobs, parse_spec
from tfy_gateway.fakeprovider.runner import running, serve

__all__ = ["KNOB_NAMES", "KnobError", "Knobs", "create_fake_provider_app", "parse_spec", "running", "serve"]
