"""A suite's results as `opa test` prints them (a PASS/FAIL line per case, then a summary), or JUnit XML."""

from __future__ import annotations

from xml.etree import ElementTree

from tfy_gateway.policy.runner import CaseResult, SuiteResult

RULE = "-" * 80


def format_text(result: SuiteResult, source: str) -> str:
    lines = [f"{source}: {result.name or 'suite'} ({result.mode})"]
    for case in result.cases:
        lines += _case(case)
    total = len(result.cases)
    lines.append(RULE)
    lines.append(f"PASS: {result.passed}/{total}")
    if result.failed:
        lines.append(f"FAIL: {result.failed}/{total}")
    if result.skipped:
        lines.append(f"SKIP: {result.skipped}/{total}")
    return "\n".join(lines)


def _case(case: CaseResult) -> list[str]:
    if case.skipped is not None:
        return [f"SKIP: {case.name} ({case.skipped})"]
    timing = f"{case.requests:,} requests"
    if case.simulated_s >= 1:
        timing += f" over {_span(case.simulated_s)} simulated"
    timing += f", {case.elapsed_s * 1000:.0f} ms"
    if case.passed:
        return [f"PASS: {case.name} ({timing})"]
    lines = [f"FAIL: {case.name} ({timing})"]
    for step, failure in case.failures:
        lines.append(f"    step {step}:")
        lines.append(f"      expected: {failure.expected}")
        lines.append(f"      actual:   {failure.actual}")
        if failure.rule:
            lines.append(f"      rule:     {failure.rule}")
    return lines


def _span(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def format_junit(result: SuiteResult, source: str) -> str:
    """One <testsuite> of <testcase>s with <failure>/<skipped>, as CI systems read it."""
    suites = ElementTree.Element("testsuites")
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name=result.name or source,
        tests=str(len(result.cases)),
        failures=str(result.failed),
        skipped=str(result.skipped),
        errors="0",
        time=f"{result.elapsed_s:.4f}",
    )
    for case in result.cases:
        element = ElementTree.SubElement(
            suite, "testcase", name=case.name, classname=source, time=f"{case.elapsed_s:.4f}"
        )
        if case.skipped is not None:
            ElementTree.SubElement(element, "skipped", message=case.skipped)
        for step, failure in case.failures:
            node = ElementTree.SubElement(element, "failure", message=f"step {step}: expected {failure.expected}")
            node.text = f"expected: {failure.expected}\nactual: {failure.actual}\nrule: {failure.rule or '-'}"
    ElementTree.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode")
