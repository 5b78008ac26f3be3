"""Reading a config-like file (a spec config or a budget): text, then a TOML, YAML or JSON
document, with every problem located as ``FILE[:LINE[:COL]]: message``.

``read_text`` refuses what cannot be such a file (missing, a folder, too big, binary, not UTF-8,
empty) before parsing; ``parse_document`` parses within bounds (``MAX_VALUES`` values, an alias
counted at the size of what it repeats, ``MAX_DEPTH`` levels, ``MAX_TOP_KEYS`` top-level keys) and
finds the line of each top-level key; ``read_document`` does both and insists on a mapping.
``Problem`` and ``raise_problems`` report what is wrong with a file, ``unknown_key`` the message
for a key the file may not hold. What the keys mean is the caller's business (``config``,
``budget``).
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, NoReturn

from .errors import SpecError
from .naming import printable
from .spec import shown
from .suggest import did_you_mean

ConfigFormat = Literal["toml", "yaml", "json"]
FORMATS: Final[tuple[ConfigFormat, ...]] = ("toml", "yaml", "json")
SUFFIX_FORMAT: Final[dict[str, ConfigFormat]] = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".json": "json"}
#: The suffixes of a file a SPEC may name (``is_config_path``).
CONFIG_SUFFIXES: Final = (".toml", ".yaml", ".yml", ".json")

#: Largest config file read (a real one is a few hundred bytes); bigger files are refused unread.
MAX_CONFIG_BYTES: Final = 1024 * 1024
#: Most values (scalars, lists, tables) a document may hold, a YAML alias counted at the size of
#: what it repeats: a config holds about 20 and a budget with a hundred specs about 500, while an
#: alias bomb ("billion laughs") of a few hundred bytes stands for billions. YAML counts while it
#: composes, so it stops reading at the limit; JSON and TOML are counted once parsed.
MAX_VALUES: Final = 10_000
#: Deepest nesting of lists and tables: a config nests 2 deep, a budget 3.
MAX_DEPTH: Final = 32
#: Most keys at the top level: a config file has 15 possible keys, a budget file 6.
MAX_TOP_KEYS: Final = 64
#: Most problems listed one per line; the rest are counted in a last line.
MAX_PROBLEMS: Final = 10
#: Most characters of a file path repeated in a message.
SHOWN_PATH: Final = 120


@dataclass(frozen=True)
class Problem:
    """One problem in a file, located as precisely as the parser allows."""

    message: str
    line: int | None = None
    column: int | None = None

    def render(self, source: str) -> str:
        where = printable(source, SHOWN_PATH)
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


def format_of(path: str | Path) -> ConfigFormat:
    suffix = Path(path).suffix.lower()
    try:
        return SUFFIX_FORMAT[suffix]
    except KeyError:
        raise SpecError(
            f"{printable(path, SHOWN_PATH)}: unknown config format {shown(suffix, 20)}; use .toml, .yaml, .yml or .json"
        ) from None


def raise_problems(source: str, problems: list[Problem]) -> NoReturn:
    """One ``SpecError`` listing ``problems`` (each ``FILE[:LINE]: message``), at most
    ``MAX_PROBLEMS`` of them and a count of the rest, so a file of 90,000 unknown keys is reported
    in a screenful, not 90,000 lines."""
    rendered = [p.render(source) for p in problems[:MAX_PROBLEMS]]
    if len(problems) > MAX_PROBLEMS:
        rest = len(problems) - MAX_PROBLEMS
        rendered.append(f"{printable(source, SHOWN_PATH)}: {rest:,} more problem{'s' if rest > 1 else ''} not listed")
    raise SpecError("; ".join(rendered), problems=rendered)


#: What to write instead of an empty file, unless the caller says otherwise (budgets do).
CONFIG_EXAMPLE: Final = 'write e.g. base = "resnet50" (see \'resnet-inspect spec resnet50 --format toml\')'


def read_text(path: str | Path, what: str = "config file", example: str = CONFIG_EXAMPLE) -> str:
    """The file's text, or a ``SpecError`` saying why it cannot be a config file (missing, a
    folder, too big, binary, not UTF-8, empty) and what to do instead."""
    p = Path(path)
    source = printable(path, SHOWN_PATH)
    try:
        exists, is_dir, is_file = p.exists(), p.is_dir(), p.is_file()
    except (OSError, ValueError):  # a name too long for the system, or with a NUL byte
        raise SpecError(f"{source}: cannot be a path here (too long, or an invalid character); check the path") from None
    if not exists:
        raise SpecError(f"{source}: no such {what}; check the path (SPEC paths are relative to the current folder)")
    if is_dir:
        raise SpecError(f"{source}: is a folder, not a {what}; give the path of a .toml, .yaml or .json file")
    if not is_file:
        raise SpecError(f"{source}: is not a regular file; give the path of a .toml, .yaml or .json file")
    try:
        size = p.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise SpecError(
                f"{source}: is {size:,} bytes, above the {MAX_CONFIG_BYTES:,}-byte limit for a {what}; "
                "is it the right file?"
            )
        with p.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"{source}: cannot be read ({exc.strerror or exc}); check its permissions") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise SpecError(f"{source}: is above the {MAX_CONFIG_BYTES:,}-byte limit for a {what}; is it the right file?")
    if b"\x00" in data:
        raise SpecError(f"{source}: is a binary file, not a {what}; give a text file in TOML, YAML or JSON")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SpecError(
            f"{source}:{line}: is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8"
        ) from None
    if not text.strip():
        raise SpecError(f"{source}: is empty; {example}")
    return text


# --------------------------------------------------------------------------------------------
# Parsing: each parser returns the document and the line of each top-level key it can find.

_TOML_AT = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")
_TOML_END = re.compile(r"\s*\(at end of document\)\s*$")


def _toml_loads(text: str) -> Any:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - 3.10 only
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = printable(str(exc.args[0]) if exc.args else str(exc), 200)
        m = _TOML_AT.search(msg)
        if m:
            raise _SyntaxProblem(Problem(f"invalid TOML: {msg[: m.start()]}", int(m.group(1)), int(m.group(2)))) from None
        m = _TOML_END.search(msg)
        if m:
            line = text.count("\n") + (0 if text.endswith("\n") else 1)
            raise _SyntaxProblem(Problem(f"invalid TOML: {msg[: m.start()]} at the end of the file", line)) from None
        raise _SyntaxProblem(Problem(f"invalid TOML: {msg}")) from None
    except ValueError as exc:  # an integer too long to convert
        raise _SyntaxProblem(Problem(printable(f"invalid TOML: {exc}", 200))) from None


class _SyntaxProblem(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


def _json_loads(text: str) -> Any:
    duplicates: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in items:
            if k in out:
                duplicates.append(k)
            out[k] = v
        return out

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number JSON allows")

    try:
        doc = json.loads(text, object_pairs_hook=pairs, parse_constant=no_constant)
    except json.JSONDecodeError as exc:
        raise _SyntaxProblem(Problem(f"invalid JSON: {exc.msg}", exc.lineno, exc.colno)) from None
    except ValueError as exc:  # NaN/Infinity, or an integer too long to convert
        raise _SyntaxProblem(Problem(printable(f"invalid JSON: {exc}", 200))) from None
    if duplicates:
        raise _SyntaxProblem(Problem(
            f"key {shown(duplicates[0], 40)} is given twice; keep one",
            _line_of_key(text, duplicates[0], "json", occurrence=2),
        ))
    return doc


def _too_many(line: int | None = None, aliases: bool = False) -> _SyntaxProblem:
    counted = " (counting each alias as the values it repeats)" if aliases else ""
    return _SyntaxProblem(Problem(
        f"holds more than {MAX_VALUES:,} values{counted}; a config or budget file needs far fewer: is it the right file?",
        line))


def _too_deep(line: int | None = None) -> _SyntaxProblem:
    return _SyntaxProblem(Problem(f"values are nested too deeply (over {MAX_DEPTH} levels); a config or budget file nests 3 at most", line))


def _yaml_base() -> type:
    """The loader ``_bounded_yaml_loader`` extends: PyYAML's safe loader, with libyaml's C parser
    producing the events where PyYAML was built with it (a 900 KB scalar takes 0.03 s instead of
    about 1 s) and PyYAML's Python composer and safe constructor in every case, so the composer can
    count what it composes."""
    import yaml

    if not getattr(yaml, "__with_libyaml__", False):
        return yaml.SafeLoader
    from yaml.composer import Composer
    from yaml.constructor import SafeConstructor
    from yaml.cyaml import CParser  # type: ignore[attr-defined]
    from yaml.resolver import Resolver

    class CEventsLoader(CParser, Composer, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

        # The C parser composes nodes itself; take the Python composer's steps instead.
        get_single_node = Composer.get_single_node
        compose_document = Composer.compose_document
        compose_node = Composer.compose_node
        check_node = Composer.check_node
        get_node = Composer.get_node

    return CEventsLoader


def _bounded_yaml_loader(text: str) -> Any:
    """A ``yaml.SafeLoader`` for ``text`` that refuses, while it composes, a document standing for
    more than ``MAX_VALUES`` values or nested more than ``MAX_DEPTH`` deep.

    An alias adds the size of the node it repeats (known once that node is composed), so an alias
    bomb is refused after composing a few dozen nodes, before anything is constructed or repr'd;
    an alias inside the node it names (a recursive structure) is refused too.
    """
    import yaml

    class BoundedLoader(_yaml_base()):  # type: ignore[misc]
        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self.values = 0
            self.depth = 0
            self.sizes: dict[int, int] = {}

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            line = event.start_mark.line + 1 if event.start_mark else None
            if isinstance(event, yaml.AliasEvent):
                node = super().compose_node(parent, index)
                size = self.sizes.get(id(node))
                if size is None:
                    raise _SyntaxProblem(Problem(
                        f"invalid YAML: alias *{printable(event.anchor, 40)} is used inside the value it names", line))
            else:
                self.depth += 1
                if self.depth > MAX_DEPTH:
                    raise _too_deep(line)
                before = self.values
                node = super().compose_node(parent, index)
                self.depth -= 1
                size = self.values - before + 1
                self.sizes[id(node)] = size
                self.values = before
            self.values += size
            if self.values > MAX_VALUES:
                raise _too_many(line, aliases=bool(self.anchors))
            return node

    return BoundedLoader(text)


def _yaml_loads(text: str) -> tuple[Any, dict[str, int]]:
    import yaml

    try:  # the loader checks for unprintable characters as soon as it is made
        loader = _bounded_yaml_loader(text)
    except yaml.YAMLError as exc:
        raise _yaml_problem(exc, text) from None
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = _yaml_key_lines(node)
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own bound, 1,000 flow levels
            raise _too_deep(mark.line + 1 if mark else None) from None
        parts = [p for p in (exc.context, exc.problem) if p]
        message = printable("invalid YAML: " + ", ".join(parts), 200)
        if mark is None:
            raise _SyntaxProblem(Problem(message)) from None
        raise _SyntaxProblem(Problem(message, mark.line + 1, mark.column + 1)) from None
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: e.g. an integer too long to convert
        raise _yaml_problem(exc, text) from None
    finally:
        loader.dispose()


def _yaml_problem(exc: Exception, text: str) -> _SyntaxProblem:
    """A YAML error without a mark (an unprintable character, an integer too long), on one line and
    located by the character position a reader error carries."""
    position = getattr(exc, "position", None)
    line = text.count("\n", 0, position) + 1 if isinstance(position, int) else None
    first = str(exc).split("\n", 1)[0]
    return _SyntaxProblem(Problem(printable(f"invalid YAML: {first}", 200), line))


def _yaml_key_lines(node: Any) -> dict[str, int]:
    """The line of each top-level key of a composed YAML document; a key given twice is refused
    (PyYAML would silently keep the last)."""
    import yaml

    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in lines:
                    raise _SyntaxProblem(Problem(
                        f"key {shown(key_node.value, 40)} is given twice (first on line {lines[key_node.value]}); keep one",
                        key_node.start_mark.line + 1,
                    ))
                lines[key_node.value] = key_node.start_mark.line + 1
    return lines


def _check_shape(doc: Any) -> None:
    """Refuse a parsed JSON or TOML document of more than ``MAX_VALUES`` values (keys included) or
    nested more than ``MAX_DEPTH`` deep, walking it without recursion and stopping at the limit."""
    count = 0
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(value, dict):
            count += len(value)
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
        count += 1
        if count > MAX_VALUES:
            raise _too_many()


def _line_of_key(text: str, key: str, fmt: ConfigFormat, occurrence: int = 1) -> int | None:
    """Best-effort line of a top-level ``key`` in TOML or JSON text (their parsers keep no marks).

    None for a key over 200 characters: no valid key is that long, and a regex built from a 900 KB
    key costs seconds to compile and run."""
    if len(key) > 200:
        return None
    k = re.escape(key)
    json_key = rf'"{k}"\s*:'
    toml_key = rf"""^[ \t]*(?:(?:{k}|"{k}"|'{k}')[ \t]*=|\[\[?[ \t]*(?:{k}|"{k}"|'{k}')[ \t]*[\].])"""
    pattern = re.compile(json_key) if fmt == "json" else re.compile(toml_key, re.MULTILINE)
    for i, m in enumerate(pattern.finditer(text), start=1):
        if i == occurrence:
            return text.count("\n", 0, m.start()) + 1
    return None


def parse_document(text: str, fmt: ConfigFormat) -> tuple[Any, dict[str, int]]:
    """``(document, {top-level key: line})``; a syntax error raises ``_SyntaxProblem``."""
    try:
        if fmt == "yaml":
            doc, lines = _yaml_loads(text)
        else:
            doc = _toml_loads(text) if fmt == "toml" else _json_loads(text)
            _check_shape(doc)
    except RecursionError:
        raise _too_deep() from None
    if isinstance(doc, dict) and len(doc) > MAX_TOP_KEYS:
        raise _SyntaxProblem(Problem(
            f"has {len(doc):,} keys at the top level; a config or budget file has a few (at most {MAX_TOP_KEYS})"))
    if fmt == "yaml":
        return doc, lines
    lines = {}
    if isinstance(doc, dict):
        for key in doc:
            if isinstance(key, str):
                line = _line_of_key(text, key, fmt)
                if line is not None:
                    lines[key] = line
    return doc, lines


def read_document(path: str | Path, what: str = "config file",
                  example: str = CONFIG_EXAMPLE) -> tuple[dict[str, Any], dict[str, int]]:
    """A config-like file as a top-level mapping plus key lines; ``SpecError`` for anything else.

    Shared by ``config`` and ``budget`` so both kinds of file get the same reading, limits and
    messages.
    """
    source = str(path)
    fmt = format_of(path)
    text = read_text(path, what, example)
    try:
        doc, lines = parse_document(text, fmt)
    except _SyntaxProblem as exc:
        raise_problems(source, [exc.problem])
    if doc is None or doc == {}:
        raise SpecError(f"{printable(source, SHOWN_PATH)}: has no keys; {example}")
    if not isinstance(doc, dict):
        kind = type(doc).__name__.replace("str", "a string").replace("list", "a list")
        raise SpecError(
            f"{printable(source, SHOWN_PATH)}: the top level is {kind}, not a mapping of KEY: VALUE; {example}"
        )
    return doc, lines



def is_config_path(text: str) -> bool:
    """Whether ``text`` names a file this module reads (by its suffix, as a SPEC does)."""
    return text.lower().endswith(CONFIG_SUFFIXES)


def unknown_key(key: object, allowed: tuple[str, ...]) -> str:
    """``unknown key 'shortcutt': did you mean shortcut? valid keys are ...`` (the same wording as
    ``fields.unknown_key_message``, over the keys this file may hold)."""
    if not isinstance(key, str):
        return f"key {shown(key, 40)} is not a name; valid keys are {', '.join(allowed)}"
    return f"unknown key {shown(key, 40)}: {did_you_mean(key, allowed)}valid keys are {', '.join(allowed)}"
