"""The docs site shows the tool's answers: a theme that scrolls wide tables instead of clipping them
(mkdocs-material, widened), pictures made by the tool on Home and Shortcuts, every picture of the
docs produced by scripts/gen_diagrams.py, and the committed shortcuts plot equal to a fresh one."""

from __future__ import annotations

import importlib.util
import os
import re
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from .conftest import IN_CI

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
needs_mpl = pytest.mark.skipif(not HAVE_MPL, reason="matplotlib not installed (pip install 'resnet-inspect[plot]')")

#: What a page of the docs shows as a picture: Markdown images and HTML <img> tags.
IMG_REF = re.compile(r"!\[[^\]]*\]\(([^)\s]+)|<img[^>]*\bsrc=\"([^\"]+)\"")
#: The matplotlib version an SVG was written with (its metadata; matplotlib's output changes with it).
MPL_VERSION = re.compile(r"Matplotlib v([0-9][^,\s<]*)")


def gen_diagrams() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_diagrams", ROOT / "scripts" / "gen_diagrams.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def generated_files() -> dict[str, str]:
    """File under docs/img -> the command that draws it, for every entry of gen_diagrams."""
    gen = gen_diagrams()
    files = {name: f"resnet-inspect diagram {args}" for name, args in gen.EXAMPLES}
    files.update({name: f"resnet-inspect shortcuts {args} --plot FILE" for name, args in gen.PLOTS})
    assert len(files) == len(gen.EXAMPLES) + len(gen.PLOTS), "two entries of gen_diagrams write the same file"
    return files


def page_images(text: str) -> list[str]:
    return [md or html for md, html in IMG_REF.findall(text)]


# ---- the configuration ---------------------------------------------------------------------------


def test_theme_is_material_and_wide() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["theme"]["name"] == "material"
    extensions = {e if isinstance(e, str) else next(iter(e)) for e in config["markdown_extensions"]}
    assert {"tables", "fenced_code", "admonition", "toc"} <= extensions
    assert {"toc": {"permalink": True}} in config["markdown_extensions"]
    css = [DOCS / path for path in config.get("extra_css", [])]
    assert css and all(path.is_file() for path in css)
    text = "\n".join(path.read_text() for path in css)
    # The content area is wider than material's 61rem, and tool output scrolls instead of wrapping.
    widths = [float(w) for w in re.findall(r"\.md-grid\s*\{[^}]*max-width:\s*([0-9.]+)rem", text)]
    assert widths and max(widths) >= 80
    assert re.search(r"pre\s*>\s*code\s*\{[^}]*white-space:\s*pre;", text)
    assert re.search(r"pre\s*>\s*code\s*\{[^}]*overflow-x:\s*auto", text)


def test_dev_extra_installs_the_theme() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - the tomli dependency of Python 3.10
        import tomli as tomllib
    dev = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]
    assert any(re.fullmatch(r"mkdocs-material>=9[.0-9]*", req) for req in dev), dev


# ---- every picture of the docs comes from scripts/gen_diagrams.py ---------------------------------


def test_every_picture_is_generated_and_present() -> None:
    files = generated_files()
    shown: dict[str, list[str]] = {}
    for page in sorted(DOCS.glob("*.md")):
        for src in page_images(page.read_text()):
            assert src.startswith("img/"), f"{page.name} shows {src}: pictures live in docs/img and come from scripts/gen_diagrams.py"
            name = src.removeprefix("img/")
            assert name in files, f"{page.name} shows {src}, which no entry of scripts/gen_diagrams.py (EXAMPLES or PLOTS) draws"
            shown.setdefault(name, []).append(page.name)
    for name, command in files.items():
        assert (DOCS / "img" / name).is_file(), f"docs/img/{name} is missing: run python scripts/gen_diagrams.py ({command})"
    # No stale picture: everything in docs/img is one of the generated ones.
    assert sorted(p.name for p in (DOCS / "img").iterdir()) == sorted(files)
    # The two pictures the issue asked for are on Home and on Shortcuts.
    gen = gen_diagrams()
    plots = {name for name, _ in gen.PLOTS}
    for page in ("index.md", "shortcuts.md"):
        pictures = {name for name, pages in shown.items() if page in pages}
        assert "resnet50_layer1.1_compare.svg" in pictures, page
        assert pictures & plots, f"{page} shows no shortcuts plot"


def test_plot_entries_name_their_metric() -> None:
    """The docs' plot must not change when the command's default metric does."""
    for name, args in gen_diagrams().PLOTS:
        assert re.search(r"--metric (macs|params)\b", args), name
        assert "macs" in name or "--metric params" in args, f"{name}: the file name says MACs, the command does not"


# ---- the committed plot is what the tool draws now ------------------------------------------------


@needs_mpl
@pytest.mark.slow
def test_committed_plots_are_current(tmp_path: Path) -> None:
    import matplotlib

    gen = gen_diagrams()
    assert gen.PLOTS
    for name, args in gen.PLOTS:
        committed = (DOCS / "img" / name).read_text()
        first, second = tmp_path / f"1-{name}", tmp_path / f"2-{name}"
        assert gen.draw_plot(args, first) == 0 and gen.draw_plot(args, second) == 0
        fresh = first.read_text()
        # Deterministic: no date, fixed ids (svg.hashsalt), so two runs give the same bytes.
        assert first.read_bytes() == second.read_bytes(), "the plot SVG differs between two runs"
        made_with = MPL_VERSION.search(committed)
        assert made_with, f"docs/img/{name} is not a matplotlib SVG"
        if made_with.group(1) != matplotlib.__version__:
            pytest.skip(f"docs/img/{name} was drawn with matplotlib {made_with.group(1)}, this is {matplotlib.__version__}")
        assert fresh == committed, f"docs/img/{name} is stale: run python scripts/gen_diagrams.py --plots"


# ---- the plot shows MACs and params ----------------------------------------------------------------


def _study(text: str):  # type: ignore[no-untyped-def]
    from resnet_inspect.shortcuts import study
    from resnet_inspect.sources import load_analysis

    return study(load_analysis(text, {}))


def _axis_labels_in_order(svg: str) -> list[str]:
    # matplotlib writes every text it draws as paths, preceded by a comment holding the text.
    return [c for c in re.findall(r"<!-- (.*?) -->", svg) if c.endswith(" per block")]


@needs_mpl
@pytest.mark.slow
def test_plot_has_a_macs_and_a_params_axis() -> None:
    from resnet_inspect.report.plot import render_plot

    s = _study("resnet152")
    svg = render_plot(s, "macs", "svg").decode()
    assert _axis_labels_in_order(svg) == ["MACs per block", "params per block"]
    assert _axis_labels_in_order(render_plot(s, "params", "svg").decode()) == ["params per block", "MACs per block"]
    # Two panels, one axes each; every one of resnet152's 50 block names is written (no thinning).
    assert len(re.findall(r'<g id="axes_\d+">', svg)) == 2
    names = [b.block.name for b in s.blocks]
    assert len(names) == 50
    comments = set(re.findall(r"<!-- (.*?) -->", svg))
    assert set(names) <= comments
    assert "main path" in comments and "a projection, if one were used here (option C)" in comments


def _png_size_and_dpi(data: bytes) -> tuple[int, int, float]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    pos, dpi = 8, 0.0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0]
        if kind == b"pHYs":
            x, _y, unit = struct.unpack(">IIB", body)
            assert unit == 1  # per metre
            dpi = x * 0.0254
        pos += 12 + length
    return width, height, dpi


@needs_mpl
@pytest.mark.slow
@pytest.mark.parametrize("preset, blocks", [("resnet50", 16), ("resnet152", 50)])
def test_plot_png_is_150_dpi_with_room_per_block(preset: str, blocks: int) -> None:
    from resnet_inspect.report.plot import render_plot

    s = _study(preset)
    assert len(s.blocks) == blocks
    width, height, dpi = _png_size_and_dpi(render_plot(s, "macs", "png"))
    assert round(dpi) == 150
    # At least 40 px (0.27 in) of width per block for its bar and its name; two panels in the height.
    assert width >= 40 * blocks and 900 <= height <= 1400, (width, height)


# ---- the built site --------------------------------------------------------------------------------


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.stylesheets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "img" and a.get("src"):
            self.srcs.append(str(a["src"]))
        if tag == "link" and a.get("rel") == "stylesheet" and a.get("href"):
            self.stylesheets.append(str(a["href"]))


def test_site_builds_with_pictures_on_home_and_shortcuts(tmp_path: Path) -> None:
    for module in ("mkdocs", "material"):
        if importlib.util.find_spec(module) is None:
            if IN_CI:
                pytest.fail(f"{module} is not installed in CI; it is in the dev extra")
            pytest.skip(f"{module} not installed")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(site)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    files = generated_files()
    for page, html in (("index.md", site / "index.html"), ("shortcuts.md", site / "shortcuts" / "index.html")):
        parser = _Images()
        parser.feed(html.read_text())
        # The material theme (its stylesheet and markup) with our extra CSS.
        assert any("assets/stylesheets/main." in href for href in parser.stylesheets), parser.stylesheets
        assert any(href.endswith("stylesheets/extra.css") for href in parser.stylesheets), parser.stylesheets
        assert 'class="md-content"' in html.read_text()
        assert parser.srcs, f"{page}: no <img> in the built page"
        shown = set()
        for src in parser.srcs:
            target = (html.parent / src).resolve()
            assert target.is_file(), f"{page}: <img src={src}> points at nothing in the built site"
            assert target.parent == (site / "img").resolve() and target.name in files, f"{page}: {src} is not drawn by gen_diagrams"
            shown.add(target.name)
        assert "resnet50_layer1.1_compare.svg" in shown and {n for n, _ in gen_diagrams().PLOTS} & shown, (page, shown)
    assert (site / "stylesheets" / "extra.css").is_file()
