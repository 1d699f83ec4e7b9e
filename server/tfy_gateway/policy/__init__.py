"""Policy tools: everything "before you apply", on the gateway's own compiled config and limiter.

- `suite`, `runner`, `expectations`, `suite_report`, `live`: policy tests as code (`tfy-gateway test`);
- `replay`, `recorded`, `replay_text`: recorded traffic against a proposed config (`tfy-gateway replay`);
- `migrate`, `regions`, `v2_render`, `translation`, `generate`, `equivalence`, `migration`,
  `migration_text`: V1 -> V2 limits with an equivalence report (`tfy-gateway migrate limits`);
- `probe`, `expected`: a gateway's rate limit measured from outside (`tfy-gateway probe limits`);
- `config`, `clock`, `traffic`, `simulator`: what they share: manifests compiled as the control plane
  compiles them, a simulated clock, and one request through admission and accounting.
Nothing here decides a policy question itself: routing, access and limits are the gateway's code.
"""
