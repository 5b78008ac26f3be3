"""The logic of the resnet-inspect GitHub Action (``action.yml``), kept here so it can be tested.

Runs in the checked-out repository with ``resnet-inspect`` on PATH and the Action's inputs in
``INPUT_*`` variables (action.yml sets them):

1. ``check --format github``: one ``::error`` annotation per exceeded limit, on the config line
   that broke it (the runner reads them from this script's stdout);
2. ``check --format json`` and ``--format markdown``: which networks were checked, and the budget
   table for the job summary;
3. for each config file checked, ``compare`` against the same file at the base ref (``git show``;
   a file new in the pull request is said to be new), as Markdown with collapsible details;
4. the report goes to ``$GITHUB_STEP_SUMMARY`` and to a file named in the ``report`` output, and
   ``ok`` says whether every network is within budget.

Exit status: 0 within budget, 1 over budget (unless ``fail-on-violation`` is false), 2 bad input
(a bad SPEC, config or budget file: its ``error:`` lines are in the log and the summary).

Standard library only: it runs before anything else is known about the runner's Python.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CONFIG_SUFFIXES = (".toml", ".yaml", ".yml", ".json")


class BadInput(Exception):
    """An input of the Action that no command could use: said in one line, exit 2."""


@dataclass(frozen=True)
class Inputs:
    specs: list[str]
    budget: str
    base_ref: str
    convention: str
    fail_on_violation: bool

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Inputs:
        def get(name: str) -> str:
            return env.get(f"INPUT_{name}", "").strip()

        try:
            specs = shlex.split(get("SPECS").replace("\n", " "))
        except ValueError as exc:  # an unclosed quote
            raise BadInput(f"the specs input cannot be split into SPECs ({exc}): quote each SPEC whole, or give one per line") from None
        return cls(
            specs=specs,
            budget=get("BUDGET"),
            base_ref=get("BASE_REF"),
            convention=get("CONVENTION"),
            fail_on_violation=get("FAIL_ON_VIOLATION").lower() not in ("false", "0", "no"),
        )

    def check_args(self, fmt: str) -> list[str]:
        """``check`` with the options first and the SPECs after ``--``, so a SPEC that starts with
        a dash is a SPEC (and refused as one), never an option."""
        args = ["check", "--format", fmt]
        if self.budget:
            args += ["--budget", self.budget]
        if self.convention:
            args += ["--convention", self.convention]
        return [*args, "--", *self.specs]


def tool(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["resnet-inspect", *args], capture_output=True, text=True, cwd=cwd, check=False)


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], capture_output=True, text=True, check=False)


def has_commit(ref: str) -> bool:
    return git("cat-file", "-e", f"{ref}^{{commit}}").returncode == 0


def ensure_ref(ref: str) -> str | None:
    """Make ``ref`` available (a shallow checkout lacks the base commit); None when it is, else why not."""
    if has_commit(ref):
        return None
    fetched = git("fetch", "--no-tags", "--depth=1", "origin", ref)
    if fetched.returncode == 0 and has_commit(ref):
        return None
    return f"the base ref {ref} is not in this checkout and could not be fetched ({fetched.stderr.strip()[:200] or 'no origin'})"


def base_version(ref: str, path: str) -> str | None:
    """The file at ``path`` (relative to the working directory) in commit ``ref``; None if absent."""
    shown = git("show", f"{ref}:./{path}")
    return shown.stdout if shown.returncode == 0 else None


def compare_section(ref: str, path: str, work: Path, convention: str) -> str:
    """Markdown comparing ``path`` at ``ref`` with the working tree's version."""
    old = base_version(ref, path)
    name = path.replace("`", "'")
    if old is None:
        return f"### `{name}`\n\n`{name}` is new in this pull request: there is nothing to compare it with.\n"
    base = work / "base" / path
    base.parent.mkdir(parents=True, exist_ok=True)
    base.write_text(old, encoding="utf-8")
    head = work / "head"
    if not head.exists():
        head.symlink_to(Path.cwd(), target_is_directory=True)
    args = ["compare", f"base/{path}", f"head/{path}", "--format", "markdown"]
    if convention:
        args += ["--convention", convention]
    done = tool(*args, cwd=str(work))
    if done.returncode != 0:
        return f"### `{name}`\n\nCould not compare with {ref}:\n\n```\n{done.stderr.strip()}\n```\n"
    return done.stdout


def checked_configs(report: dict[str, object]) -> list[str]:
    """The config files among the networks ``check`` checked, relative to the working directory."""
    found: list[str] = []
    for result in report.get("results", []):  # type: ignore[union-attr]
        spec = str(result.get("spec", ""))  # type: ignore[union-attr]
        if spec.endswith(CONFIG_SUFFIXES) and Path(spec).is_file():
            rel = os.path.relpath(spec)
            if not rel.startswith("..") and rel not in found:
                found.append(rel)
    return found


def write_outputs(env: dict[str, str], ok: bool, report: Path) -> None:
    target = env.get("GITHUB_OUTPUT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(f"ok={'true' if ok else 'false'}\nreport={report}\n")


def main(env: dict[str, str] | None = None) -> int:
    env = dict(os.environ if env is None else env)
    work = Path(tempfile.mkdtemp(prefix="resnet-inspect-", dir=env.get("RUNNER_TEMP") or None))
    report = work / "report.md"
    try:
        inputs = Inputs.from_env(env)
    except BadInput as exc:
        sys.stderr.write(f"error: {exc}\n")
        return bad_input(env, report, f"error: {exc}")

    annotations = tool(*inputs.check_args("github"))
    sys.stdout.write(annotations.stdout)
    sys.stderr.write(annotations.stderr)
    if annotations.returncode not in (0, 1):  # bad input: the error lines say what to fix
        return bad_input(env, report, annotations.stderr.strip() or "resnet-inspect check failed")

    parts = ["## resnet-inspect", ""]
    table = tool(*inputs.check_args("markdown"))
    data = json.loads(tool(*inputs.check_args("json")).stdout)
    ok = bool(data["ok"])
    over = sum(len(r["violations"]) for r in data["results"])
    parts.append("**Within budget.**" if ok else f"**Over budget: {over} limit{'s' if over != 1 else ''} exceeded.**")
    parts += ["", table.stdout.strip(), ""]

    if inputs.base_ref:
        why = ensure_ref(inputs.base_ref)
        if why is not None:
            sys.stdout.write(f"::warning title=resnet-inspect::{why}\n")
            parts += [f"_No comparison: {why}._", ""]
        else:
            parts += [compare_section(inputs.base_ref, path, work, inputs.convention) for path in checked_configs(data)]
    report.write_text("\n".join(parts).rstrip() + "\n", encoding="utf-8")
    finish(env, report, ok)
    return 0 if ok or not inputs.fail_on_violation else 1


def bad_input(env: dict[str, str], report: Path, errors: str) -> int:
    """The report and outputs of a run that checked nothing; exit status 2."""
    report.write_text(f"## resnet-inspect\n\n**Bad input**: nothing was checked.\n\n```\n{errors}\n```\n", encoding="utf-8")
    finish(env, report, ok=False)
    return 2


def finish(env: dict[str, str], report: Path, ok: bool) -> None:
    summary = env.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as out:
            out.write(report.read_text(encoding="utf-8"))
    write_outputs(env, ok, report)


if __name__ == "__main__":
    sys.exit(main())
