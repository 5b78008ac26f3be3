"""``check`` for CI systems: GitHub workflow annotations and a JUnit XML report.

Formatting only: the results come from ``budget.check`` and each violation's place (the config
line blamed, else the budget file's line of the limit) from ``blame.locate``.

Both carry strings from outside (file names, spec names, config values), so both escape them for
the reader: GitHub's workflow-command encoding (a name cannot end the command and start another)
and XML escaping through ``ElementTree`` (control characters, which XML 1.0 cannot hold, are
dropped by ``naming.printable`` first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..blame import Location
from ..budget import LIMITS as LIMIT_METRIC
from ..budget import CheckResult, Violation
from ..naming import printable
from ..units import human

#: Key of a violation's location: (index of the result, limit key).
Where = Mapping[tuple[int, str], Location]


def _data(text: str) -> str:
    """A workflow command's message, encoded as the runner decodes it."""
    return printable(text, 4000).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    """A workflow command's property value (``file=``, ``title=``), encoded likewise."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _message(v: Violation, loc: Location | None) -> str:
    parts = [v.line()]
    if loc is not None and loc.why:
        parts.append(loc.why)
    if loc is not None and loc.limit_at:
        parts.append(f"limit set at {loc.limit_at}")
    return ". ".join(parts) + "."


def github(results: Sequence[CheckResult], where: Where) -> str:
    """One ``::error`` per exceeded limit, at the line blamed, and a ``::notice`` per network
    within budget; GitHub shows them on the pull request's diff and in the run's summary."""
    lines: list[str] = []
    for i, r in enumerate(results):
        for v in r.violations:
            loc = where.get((i, v.key))
            props = []
            if loc is not None and loc.path:
                props.append(f"file={_prop(loc.path)}")
                if loc.line:
                    props.append(f"line={loc.line}")
            props.append(f"title={_prop(f'resnet-inspect check: {v.metric} over budget')}")
            lines.append(f"::error {','.join(props)}::{_data(_message(v, loc))}")
        if r.ok:
            used = ", ".join(f"{LIMIT_METRIC[k]} {human(r.values[LIMIT_METRIC[k]])} of {human(lim)}" for k, lim in r.limits.items())
            lines.append(f"::notice title={_prop('resnet-inspect check: within budget')}::{_data(f'{r.label}: {used}')}")
    over = sum(1 for r in results if not r.ok)
    lines.append(f"resnet-inspect check: {over} of {len(results)} network{'s' if len(results) != 1 else ''} over budget"
                 if over else f"resnet-inspect check: {len(results)} network{'s' if len(results) != 1 else ''} within budget")
    return "\n".join(lines) + "\n"


def junit(results: Sequence[CheckResult], where: Where) -> str:
    """A JUnit XML report: one test suite per network, one test case per limit, a ``failure``
    for each exceeded one (with the file and line blamed as attributes, as pytest writes them)."""
    import xml.etree.ElementTree as ET  # only for this format

    suites = ET.Element("testsuites", name="resnet-inspect check")
    total = failures = 0
    for i, r in enumerate(results):
        cases = r.limits.items()
        failed = {v.key: v for v in r.violations}
        suite = ET.SubElement(suites, "testsuite", name=printable(r.label, 200), tests=str(len(cases)),
                              failures=str(len(failed)), errors="0", skipped="0")
        for key, limit in cases:
            case = ET.SubElement(suite, "testcase", classname=f"resnet-inspect.check.{printable(r.label, 200)}", name=key)
            loc = where.get((i, key))
            if loc is not None and loc.path:
                case.set("file", printable(loc.path, 500))
                if loc.line:
                    case.set("line", str(loc.line))
            metric = LIMIT_METRIC[key]
            if key in failed:
                v = failed[key]
                failure = ET.SubElement(case, "failure", message=printable(v.line(), 500), type="over budget")
                failure.text = printable(_message(v, loc), 4000)
            else:
                ET.SubElement(case, "system-out").text = f"{metric} {r.values[metric]:,} <= {limit:,}"
        total += len(cases)
        failures += len(failed)
    suites.set("tests", str(total))
    suites.set("failures", str(failures))
    suites.set("errors", "0")
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

