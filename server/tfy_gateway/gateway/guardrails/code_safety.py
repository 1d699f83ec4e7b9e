"""`code-safety-linter`: code that would run arbitrary commands (eval, exec, os.system, subprocess,
`rm -rf`, piping a download into a shell), as agents' tool outputs and answers may carry."""

from __future__ import annotations

import re

from tfy_gateway.gateway.guardrails.scanning import Finding, Scanner

UNSAFE: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (label, re.compile(pattern))
    for label, pattern in (
        ("eval", r"\beval\s*\("),
        ("exec", r"\bexec\s*\("),
        ("os.system", r"\bos\.(?:system|popen|exec[lv]p?e?)\s*\("),
        ("subprocess", r"\bsubprocess\.(?:run|call|Popen|check_call|check_output|getoutput)\s*\("),
        ("rm -rf", r"\brm\s+-(?:[a-zA-Z]*r[a-zA-Z]*f|[a-zA-Z]*f[a-zA-Z]*r)[a-zA-Z]*\b"),
        ("curl | sh", r"\b(?:curl|wget)\b[^\n|]*\|\s*(?:sudo\s+)?(?:ba|z)?sh\b"),
        ("child_process", r"\bchild_process\.(?:exec|spawn|execSync)\s*\("),
        ("__import__", r"__import__\s*\(\s*['\"]os['\"]"),
    )
)


class CodeSafetyScanner(Scanner):
    def findings(self, text: str) -> list[Finding]:
        return [Finding(label, m.start(), m.end()) for label, pattern in UNSAFE for m in pattern.finditer(text)]
