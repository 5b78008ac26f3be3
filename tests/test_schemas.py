"""The JSON Schemas of every ``--format json`` output (``resnet_inspect/schemas``, ``resnet-inspect schema``).

Every command's real output, run through the CLI, validates against its schema: every preset, spec
variants (options A to D and none, pre-activation, the CIFAR and deep stems), traced user modules,
checkpoints built here, the verify and bench reports. Mutated documents must fail, so the schemas
are closed and typed, not just permissive. The schemas' vocabularies (spec fields and enums,
shortcut kinds, conventions, ops) are checked against the code they describe.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
import json
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from resnet_inspect import schemas
from resnet_inspect.cli import app
from resnet_inspect.presets import PRESETS

from .conftest import IN_CI

try:
    from jsonschema import Draft202012Validator
except ModuleNotFoundError:  # in the dev extra; CI must have it
    if IN_CI:
        raise
    pytest.skip("jsonschema not installed (pip install 'resnet-inspect[dev]')", allow_module_level=True)

runner = CliRunner()
ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "resnet_inspect" / "schemas"
NETS = Path(__file__).resolve().parent / "usernets"
HAVE_TORCH = importlib.util.find_spec("torch") is not None
#: The commands whose report every SPEC has (no torch needed for a spec).
REPORTS = ("summary", "shortcuts", "memory", "counting", "roofline")


@functools.cache
def validator(name: str) -> Any:
    return Draft202012Validator(schemas.load(name))


def problems(name: str, doc: Any) -> list[str]:
    """Every way ``doc`` breaks schema ``name``, one line each (empty: valid)."""
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:200]}" for e in validator(name).iter_errors(doc))


def versions(doc: Any) -> Iterator[Any]:
    """Every ``schema_version`` value in ``doc``, at any depth (inspect nests a summary)."""
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "schema_version":
                yield value
            yield from versions(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from versions(value)


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def valid_output(name: str, *args: str, code: int = 0) -> dict[str, Any]:
    """The JSON the CLI prints for ``args`` (exiting ``code``), checked against schema ``name``:
    valid, and carrying the schema's ``schema_version`` wherever it has the key."""
    got, out, err = run(*args)
    assert got == code, f"{args}: exit {got}: {err}"
    doc = json.loads(out)
    assert problems(name, doc) == [], f"{' '.join(args)}"
    found = list(versions(doc))
    if name == "spec":
        assert found == [], "spec --format json is a config file: no schema_version"
    else:
        assert found and all(type(v) is int and v == schemas.load(name)["schema_version"] for v in found), found
    return doc


# ---------------------------------------------------------------------------------------- the files


def test_every_name_has_a_file_and_every_file_a_name() -> None:
    assert len(set(schemas.NAMES)) == len(schemas.NAMES) == 12
    assert {p.stem for p in SCHEMA_DIR.glob("*.json")} == set(schemas.NAMES)


def _subschemas(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _subschemas(value)
    elif isinstance(node, list):
        for value in node:
            yield from _subschemas(value)


@pytest.mark.parametrize("name", schemas.NAMES)
def test_schema_is_draft_2020_12_closed_and_versioned(name: str) -> None:
    doc = schemas.load(name)
    Draft202012Validator.check_schema(doc)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert doc["$id"] == f"https://resnet-inspect.dev/schemas/{name}/1.json"
    assert doc["title"] == f"resnet-inspect {name} --format json" and doc["description"]
    assert type(doc["schema_version"]) is int and doc["schema_version"] == 1
    objects = [s for s in _subschemas(doc) if s.get("type") == "object"]
    assert objects
    for s in objects:  # closed: every object with fixed keys says so and requires keys it lists; a map types its values
        if "properties" not in s:
            assert isinstance(s.get("additionalProperties"), dict), s
            continue
        assert s.get("additionalProperties") is False, sorted(s["properties"])
        assert set(s.get("required", ())) <= set(s["properties"])
    tops = [doc] if "properties" in doc else [doc["$defs"][r["$ref"].rsplit("/", 1)[1]] for r in doc["oneOf"]]
    for top in tops:
        if name == "spec":
            assert "schema_version" not in top["properties"]
        else:
            assert top["properties"]["schema_version"] == {**top["properties"]["schema_version"], "const": doc["schema_version"]}
            assert "schema_version" in top["required"]
    refs = {s["$ref"] for s in _subschemas(doc) if "$ref" in s}
    assert {r.rsplit("/", 1)[1] for r in refs} == set(doc.get("$defs", {})), "every $def used, every $ref defined"


def test_shared_definitions_are_the_same_in_every_file() -> None:
    """Each file stands alone (no $ref between files), so shared $defs are copies: they must agree."""
    seen: dict[str, tuple[str, Any]] = {}
    for name in schemas.NAMES:
        for key, value in schemas.load(name).get("$defs", {}).items():
            if key in ("summary", "module_report", "spec_report", "checkpoint_report"):
                continue
            first = seen.setdefault(key, (name, value))
            assert value == first[1], f"$defs/{key} differs between {first[0]}.json and {name}.json"
    summary, inspect = schemas.load("summary"), schemas.load("inspect")
    nested = inspect["$defs"]["summary"]
    for key in ("type", "required", "properties", "additionalProperties"):
        assert nested[key] == summary[key], f"inspect's summary differs from summary.json in {key}"
    assert schemas.load("spec")["properties"] == summary["$defs"]["spec"]["properties"]


def test_vocabularies_are_the_code_s() -> None:
    from resnet_inspect import spec as spec_mod
    from resnet_inspect.conventions import CATEGORIES, CONVENTIONS
    from resnet_inspect.counts import OPS
    from resnet_inspect.inspect_ckpt import FORMATS
    from resnet_inspect.plan import SHORTCUT_KINDS, SOURCES, Op
    from resnet_inspect.recover import LAYOUTS, UNSEEN
    from resnet_inspect.traffic import Bound, Part

    summary = schemas.load("summary")
    defs = summary["$defs"]
    fields = defs["spec"]["properties"]
    assert list(fields) == list(spec_mod.FIELD_NAMES) == defs["spec"]["required"]
    assert tuple(fields["block"]["enum"]) == spec_mod.BLOCK_KINDS
    assert tuple(fields["stem"]["enum"]) == spec_mod.STEMS
    assert tuple(fields["stride_in"]["enum"]) == spec_mod.STRIDE_IN
    assert tuple(fields["shortcut"]["enum"]) == spec_mod.SHORTCUTS
    assert fields["layers"]["maxItems"] == fields["widths"]["maxItems"] == spec_mod.MAX_STAGES
    assert fields["input_size"]["maximum"] == spec_mod.MAX_INPUT_SIZE and fields["num_classes"]["maximum"] == spec_mod.MAX_CLASSES
    assert fields["widths"]["items"]["maximum"] == fields["stem_width"]["maximum"] == spec_mod.MAX_CHANNELS
    assert tuple(defs["shortcut_kind"]["enum"]) == SHORTCUT_KINDS
    assert tuple(defs["source"]["properties"]["kind"]["enum"]) == SOURCES
    assert tuple(defs["convention"]["enum"]) == ("ours", *CONVENTIONS)
    assert tuple(summary["properties"]["totals"]["properties"]["macs_by_op"]["required"]) == OPS
    counting = schemas.load("counting")
    assert tuple(counting["properties"]["conventions"]["required"]) == CONVENTIONS
    assert tuple(counting["$defs"]["breakdown"]["required"]) == CATEGORIES
    roofline = schemas.load("roofline")
    layer = roofline["properties"]["layers"]["items"]["properties"]
    assert tuple(layer["op"]["enum"]) == typing.get_args(Op)
    assert tuple(layer["path"]["enum"]) == typing.get_args(Part)
    assert tuple(roofline["$defs"]["bound"]["enum"]) == typing.get_args(Bound)
    families = schemas.load("presets")["properties"]["presets"]["items"]["properties"]["family"]["enum"]
    assert set(families) == {p.family for p in PRESETS.values()}
    ckpt = schemas.load("inspect")["$defs"]["checkpoint_report"]["properties"]
    assert tuple(ckpt["format"]["enum"]) == tuple(FORMATS)
    assert tuple(ckpt["recovery"]["properties"]["layout"]["enum"]) == tuple(LAYOUTS)
    assert tuple(ckpt["recovery"]["properties"]["unseen"]["items"]["enum"]) == UNSEEN


def test_importing_the_schemas_imports_nothing_heavy() -> None:
    code = ("import sys, resnet_inspect.schemas as s; s.load('summary'); "
            "print(sorted(m for m in ('torch', 'jsonschema', 'typer', 'rich') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert proc.stdout.strip() == "[]"


def test_load_of_an_unknown_name_is_a_usage_error() -> None:
    from resnet_inspect.errors import UsageError

    with pytest.raises(UsageError, match="did you mean memory"):
        schemas.load("memroy")
    assert schemas.load("check")["title"] == "resnet-inspect check --format json"


# ---------------------------------------------------------------------------------------- the command


@pytest.mark.parametrize("name", schemas.NAMES)
def test_schema_command_prints_the_file(name: str, tmp_path: Path) -> None:
    code, out, err = run("schema", name)
    assert code == 0 and err == ""
    assert out == (SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8")
    target = tmp_path / f"{name}.schema.json"
    code, out, _ = run("schema", name, "-o", str(target))
    assert code == 0 and out == ""
    assert json.loads(target.read_text(encoding="utf-8")) == schemas.load(name)


def test_schema_command_lists_the_names() -> None:
    for args in (("schema",), ("schema", "--list")):
        code, out, _ = run(*args)
        assert code == 0
        title, header, rule, *lines = out.splitlines()  # a table: to a pipe, one row per schema
        assert title.startswith("JSON Schemas") and header.split() == ["schema", "describes"] and set(rule) == {"─"}
        assert [ln.split()[0] for ln in lines] == list(schemas.NAMES)
        assert all(len(ln.split(None, 1)) == 2 for ln in lines), "a description beside every name"


@pytest.mark.parametrize(("args", "fragment"), [
    (("nosuch",), "no schema 'nosuch': the schemas are " + ", ".join(schemas.NAMES)),
    (("sumary",), "did you mean summary?"),
    (("summary", "--list"), "not both"),
])
def test_schema_command_bad_name_is_one_line_exit_2(args: tuple[str, ...], fragment: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "resnet_inspect", "schema", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert fragment in proc.stderr


def test_schema_names_complete() -> None:
    from resnet_inspect.cli.schema import _complete_name

    assert [n for n, _ in _complete_name("")] == list(schemas.NAMES)
    assert [n for n, _ in _complete_name("s")] == ["summary", "shortcuts", "spec"]
    assert all(help_text for _, help_text in _complete_name("c"))


# ---------------------------------------------------------------------------------------- every output


@pytest.mark.parametrize("command", REPORTS)
@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_report_validates(command: str, preset: str) -> None:
    doc = valid_output(command, command, preset, "-f", "json")
    assert doc["spec"]["name"] == preset and doc["source"] == {"kind": "spec", "text": preset}


VARIANTS = (
    "resnet34:shortcut=A", "resnet50:shortcut=C", "resnet50:shortcut=D", "resnet34:shortcut=none", "preact_resnet18",
    "resnet18:stem=cifar,input_size=32,num_classes=10", "resnet50:stem=deep,stride_in=1x1", "resnext50_32x4d:input_size=97",
    "resnet18:stem_width=128",  # option A impossible: the shortcuts report lists it as unavailable
)


@pytest.mark.parametrize("command", REPORTS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_spec_variants_validate(command: str, variant: str) -> None:
    valid_output(command, command, variant, "-f", "json")


def test_unavailable_option_and_views_validate() -> None:
    doc = valid_output("shortcuts", "shortcuts", "resnet18:stem_width=128", "-f", "json")
    a = next(o for o in doc["network"] if o["option"] == "A")
    assert a["available"] is False and a["reason"] and a["params"] is None
    network = valid_output("shortcuts", "shortcuts", "resnet34", "--view", "network", "-f", "json")
    assert "network" in network and "blocks" not in network and "verdict" not in network
    blocks = valid_output("shortcuts", "shortcuts", "resnet34", "--view", "blocks", "-f", "json")
    assert "blocks" in blocks and "network" not in blocks and "comparisons" not in blocks
    # Each view's document is not the other's: dropping what the view promises fails.
    assert problems("shortcuts", {k: v for k, v in doc.items() if k != "verdict"})
    assert problems("shortcuts", {k: v for k, v in doc.items() if k not in ("network", "comparisons", "blocks", "verdict")})


@pytest.mark.parametrize("args", [
    ("roofline", "resnet18", "--layers"),
    ("roofline", "resnet50", "--device-peak", "312T,2.0TB/s", "--dtype", "bf16", "--batch", "8"),
    ("roofline", "cifar_resnet20", "--device", "t4", "--dtype", "fp16", "--layers"),
    ("memory", "resnet50", "--batch", "32", "--dtype", "bf16", "--optimizer", "adamw", "--fit", "24GiB"),
    ("memory", "resnet152", "--fit", "1MB"),
    ("summary", "resnet50", "--convention", "thop"),
])
def test_report_options_validate(args: tuple[str, ...]) -> None:
    doc = valid_output(args[0], *args, "-f", "json")
    if "--fit" in args:
        assert doc["fit"]["batch"] >= 0
    if "--layers" in args:
        assert any(row["block"] is None for row in doc["layers"]) and any(row["kernel"] is None for row in doc["layers"])


def test_presets_and_spec_documents_validate(tmp_path: Path) -> None:
    doc = valid_output("presets", "presets", "-f", "json")
    assert [p["name"] for p in doc["presets"]] == list(PRESETS)
    assert len(valid_output("presets", "presets", "--family", "cifar", "-f", "json")["presets"]) >= 6
    for text in ("resnet50", *VARIANTS):
        spec = valid_output("spec", "spec", text, "-f", "json")
        path = tmp_path / "net.json"  # and it is a config file: it loads back
        path.write_text(json.dumps(spec))
        assert valid_output("summary", "summary", str(path), "-f", "json")["spec"] == spec


# ---------------------------------------------------------------------------------------- compare and check


def test_compare_documents_validate() -> None:
    aligned = valid_output("compare", "compare", "resnet34:shortcut=A", "resnet34:shortcut=B", "-f", "json")
    assert aligned["blocks_aligned"] is True and isinstance(aligned["blocks"], list)
    # A has no shortcut parameters at all: every ratio against it is null
    assert aligned["totals"]["shortcut_params"]["a"] == 0 and aligned["totals"]["shortcut_params"]["relative"] is None
    other = valid_output("compare", "compare", "resnet18", "resnet50", "--convention", "fvcore", "-f", "json")
    assert other["blocks_aligned"] is False and other["blocks"] is None and other["convention"] == "fvcore"
    fewer = valid_output("compare", "compare", "resnet18", "resnet18:layers=2-2-2,widths=64-128-256", "-f", "json")
    last = fewer["stages"][-1]
    assert last["in_b"] is False and last["out_shape"]["b"] is None
    # aligned and blocks disagree: invalid
    assert problems("compare", {**aligned, "blocks": None})
    assert problems("compare", {**other, "blocks": []})


def test_check_documents_validate(tmp_path: Path) -> None:
    ok = valid_output("check", "check", "resnet50", "--max-params", "26M", "--max-macs", "4.2G", "-f", "json")
    assert ok["ok"] is True and ok["results"][0]["violations"] == [] and ok["results"][0]["limits"]["max_activations"] is None
    over = valid_output("check", "check", "resnet50", "--max-params", "20M", "--max-projections", "1", "-f", "json", code=1)
    assert over["ok"] is False and {v["limit"] for v in over["results"][0]["violations"]} == {"max_params", "max_projections"}
    fv = valid_output("check", "check", "resnet50", "--max-macs", "4.10G", "--convention", "fvcore", "-f", "json", code=1)
    assert fv["convention"] == "fvcore"
    budget = tmp_path / "budget.toml"
    budget.write_text('max_params = "30M"\nconvention = "thop"\n[specs.small]\nspec = "resnet18"\nmax_macs = "2G"\n'
                      '[specs.big]\nspec = "resnet50"\nmax_macs = "4G"\n')
    named = valid_output("check", "check", "--budget", str(budget), "-f", "json", code=1)
    assert [r["name"] for r in named["results"]] == ["small", "big"] and named["convention"] == "thop"
    one = valid_output("check", "check", "resnet34", "--budget", str(budget), "-f", "json")
    assert one["ok"] is True
    several = valid_output("check", "check", "resnet18", "resnet50", "--max-params", "24M", "-f", "json", code=1)
    assert [r["ok"] for r in several["results"]] == [True, False]


# ---------------------------------------------------------------------------------------- torch: modules, checkpoints, verify, bench

#: A unit whose shortcut is conv-BN-ReLU: a shortcut kind of 'other', with its ops named.
ODD_NET = '''
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, stride=1, k=3):
    return [nn.Conv2d(cin, cout, k, stride, k // 2, bias=False), nn.BatchNorm2d(cout)]


class Unit(nn.Module):
    def __init__(self, cin, cout, stride=1, shortcut=None):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(cin, cout, stride)
        self.conv2, self.bn2 = conv_bn(cout, cout)
        if shortcut is not None:
            self.shortcut = shortcut

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (self.shortcut(x) if hasattr(self, "shortcut") else x))


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.bn1 = conv_bn(3, 16)
        self.layer1 = nn.Sequential(Unit(16, 16), Unit(16, 32, 2, nn.Sequential(*conv_bn(16, 32, 2, k=1), nn.ReLU())))
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        x = self.layer1(F.relu(self.bn1(self.conv1(x))))
        return self.fc(F.avg_pool2d(x, x.size(2)).flatten(1))
'''

MODULES = (
    f"{NETS}/cifar_option_a.py:resnet20", f"{NETS}/cifar_option_b.py:ResNet18", f"{NETS}/preact.py:PreActResNet18",
    f"{NETS}/se_bottleneck.py:se_resnet_small", f"{NETS}/resnext.py:ResNeXt", f"{ROOT}/docs/examples/tutorial_resnet.py:ResNet",
)


@pytest.mark.parametrize("command", REPORTS)
@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.rsplit("/", 1)[1])
@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="needs torch")
def test_traced_module_reports_validate(command: str, module: str) -> None:
    if command == "counting" and "se_bottleneck" in module:  # a traced sigmoid: no JSON, one error line
        code, out, err = run(command, module, "--input-size", "32", "-f", "json")
        assert code == 2 and out == "" and "sigmoid" in err
        return
    doc = valid_output(command, command, module, "--input-size", "32", "-f", "json")
    assert doc["source"]["kind"] == "module" and "matches" in doc["source"]


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="needs torch")
def test_other_shortcut_and_described_spec_validate(tmp_path: Path) -> None:
    path = tmp_path / "odd_net.py"
    path.write_text(ODD_NET)
    doc = valid_output("summary", "summary", f"{path}:Net", "--input-size", "32", "-f", "json")
    odd = doc["blocks"][1]
    assert odd["shortcut"] == "other" and odd["shortcut_ops"] == ["1x1/2 conv", "batch_norm", "relu"]
    assert set(doc["spec"]) == {"name", "input_size", "in_channels", "num_classes"} and doc["source"]["matches"] is None
    for command in ("shortcuts", "memory", "roofline"):
        valid_output(command, command, f"{path}:Net", "--input-size", "32", "-f", "json")
    blocks = valid_output("shortcuts", "shortcuts", f"{path}:Net", "--input-size", "32", "--view", "blocks", "-f", "json")
    assert blocks["given"] is None and blocks["baseline"] is None
    mod = valid_output("inspect", "inspect", f"{path}:Net", "--input-size", "32", "-f", "json")
    assert mod["source_kind"] == "module" and mod["recovered"] is None
    # shortcut 'other' without its ops, or ops on another kind: invalid
    broken = copy.deepcopy(doc)
    del broken["blocks"][1]["shortcut_ops"]
    assert problems("summary", broken)
    broken = copy.deepcopy(doc)
    broken["blocks"][0]["shortcut_ops"] = ["relu"]
    assert problems("summary", broken)


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="needs torch")
def test_module_spec_and_inspect_validate() -> None:
    module = f"{NETS}/cifar_option_b.py:ResNet18"
    spec = valid_output("spec", "spec", module, "--input-size", "32", "-f", "json")
    assert spec["stem"] == "cifar"
    doc = valid_output("inspect", "inspect", module, "--input-size", "32", "-f", "json")
    assert doc["recovered"] == spec and doc["summary"]["source"]["kind"] == "module"
    cmp = valid_output("compare", "compare", "resnet18:stem=cifar,input_size=32,num_classes=10", module, "-f", "json")
    assert cmp["b"]["source"]["matches"] == "resnet18:stem=cifar,input_size=32,num_classes=10"


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="needs torch")
@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_checkpoint_inspect_validates(suffix: str, tmp_path: Path) -> None:
    path = tmp_path / f"resnet20{suffix}"
    code, _, err = run("build", "cifar_resnet20", "-o", str(path), "--seed", "0")
    assert code == 0, err
    plain = valid_output("inspect", "inspect", str(path), "-f", "json")
    assert plain["source_kind"] == ("safetensors" if suffix == ".safetensors" else "torch")
    assert plain["format"] == ("safetensors" if suffix == ".safetensors" else "zip")
    given = valid_output("inspect", "inspect", str(path), "--shortcut", "A", "-f", "json")
    assert given["recovered"]["shortcut"] == "A" and given["summary"]["spec"]["name"] == given["recovered"]["name"]
    assert given["params"] == given["recovery"]["checkpoint_params"] == 269_722
    assert given["difference"]["exact"] is (not given["unmapped"] and not given["recovery"]["missing"])


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="needs torch")
def test_checkpoint_with_extra_tensors_validates(tmp_path: Path) -> None:
    import torch

    from resnet_inspect.nn.builder import build_model
    from resnet_inspect.presets import get_preset

    state = build_model(get_preset("cifar_resnet20"), seed=0).state_dict()
    state["layer2.0.gate.weight"] = torch.zeros(32, 32)  # no spec field describes it
    path = tmp_path / "gated.pt"
    torch.save(state, path)
    doc = valid_output("inspect", "inspect", str(path), "--shortcut", "A", "-f", "json")
    assert doc["unmapped"] and doc["difference"]["exact"] is False and doc["params"] > doc["spec_params"]
    strict = valid_output("inspect", "inspect", str(path), "--shortcut", "A", "--strict", "-f", "json", code=1)
    assert strict["unmapped"] == doc["unmapped"]


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="needs torch")
def test_verify_documents_validate() -> None:
    doc = valid_output("verify", "verify", "cifar_resnet20:layers=1-1-1", "-f", "json")
    assert doc["ok"] is True and doc["spec"]["layers"] == [1, 1, 1] and doc["checks"]
    module = f"{NETS}/cifar_option_b.py:ResNet18"
    traced = valid_output("verify", "verify", module, "--input-size", "32", "-f", "json")
    assert traced["ok"] is True
    spec = "resnet18:stem=cifar,input_size=32,num_classes=10"
    same = valid_output("verify", "verify", spec, "--module", module, "-f", "json")
    assert same["ok"] is True and same["module"] == module and all(b["module_block"] for b in same["blocks"])
    differs = valid_output("verify", "verify", spec + ",shortcut=C", "--module", module, "-f", "json", code=1)
    assert differs["ok"] is False and any(b["differences"] for b in differs["blocks"])
    unpaired = valid_output("verify", "verify", "resnet34:stem=cifar,input_size=32,num_classes=10", "--module", module, "-f", "json",
                            code=1)
    assert unpaired["blocks"] == [] and unpaired["network"]
    # one report's keys in the other's shape: neither branch accepts it
    assert problems("verify", {**same, "checks": []})
    assert problems("verify", {k: v for k, v in doc.items() if k != "output_shape"})


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="needs torch")
def test_memory_measure_validates() -> None:
    doc = valid_output("memory", "memory", "cifar_resnet20:layers=1-1-1", "--measure", "--batch", "2", "-f", "json")
    measured = doc["measured"]
    assert measured["device"] == "cpu" and measured["peak_cuda_bytes"] is None and set(measured["blocks"]) == {
        b["name"] for b in doc["blocks"]}


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_TORCH, reason="needs torch")
def test_bench_document_validates() -> None:
    doc = valid_output("bench", "bench", "cifar_resnet20:layers=1-1-1", "--shortcut-options", "A,B", "--backward",
                       "--min-time", "0.02", "--threads", "1", "-f", "json")
    assert [o["shortcut"] for o in doc["options"]] == ["A", "B"] and doc["options"][0]["forward_backward"] is not None
    assert any(b["shortcut_module"] is None for b in doc["blocks"]) and doc["peak"]["source"] == "measured"
    module = valid_output("bench", "bench", f"{NETS}/cifar_option_a.py:resnet20", "--input-size", "32", "--no-blocks",
                          "--device-peak", "1T,10GB/s", "--min-time", "0.02", "--threads", "1", "-f", "json")
    assert [o["shortcut"] for o in module["options"]] == ["as written"] and module["blocks"] == [] and module["agreement"] is None


# ---------------------------------------------------------------------------------------- mutations fail


@functools.cache
def _summary() -> str:
    return run("summary", "resnet50", "-f", "json")[1]


def summary_doc() -> dict[str, Any]:
    return typing.cast(dict[str, Any], json.loads(_summary()))


def test_real_summary_is_valid() -> None:
    assert problems("summary", summary_doc()) == []


def _drop(doc: dict[str, Any], *path: Any) -> None:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]


def _set(doc: dict[str, Any], value: Any, *path: Any) -> None:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


@pytest.mark.parametrize("path", [
    ("schema_version",), ("totals", "params"), ("totals", "macs_by_op", "relu"), ("blocks", 0, "params", "shortcut"),
    ("stem", "out_shape"), ("spec", "shortcut"), ("source", "kind"), ("stages", 1, "shortcuts"), ("head",),
])
def test_summary_with_a_key_removed_fails(path: tuple[Any, ...]) -> None:
    doc = summary_doc()
    _drop(doc, *path)
    assert problems("summary", doc)


@pytest.mark.parametrize("path", [
    ("extra",), ("totals", "gflops"), ("blocks", 3, "note"), ("spec", "dilation"), ("blocks", 0, "macs", "bias"), ("source", "matches"),
])
def test_summary_with_an_extra_key_fails(path: tuple[Any, ...]) -> None:
    doc = summary_doc()
    _set(doc, 1, *path)
    assert problems("summary", doc)


@pytest.mark.parametrize(("path", "value"), [
    (("totals", "macs"), "4089184256"),  # an int turned into a string
    (("totals", "params"), 25557032.5),
    (("blocks", 0, "stride"), "1"),
    (("blocks", 0, "in_shape"), [64, 56]),
    (("blocks", 0, "shortcut"), "skip"),
    (("spec", "block"), "wide"),
    (("spec", "layers"), [3, 4, 6, 3, 2, 2, 1]),
    (("schema_version",), 2),
    (("convention",), None),
    (("totals", "receptive_field_covers_input_at"), 3),
    (("blocks", 0, "preact"), 0),
    (("stages", 0, "shortcuts"), {"identity": 2, "skip": 1}),
])
def test_summary_with_a_wrong_type_or_value_fails(path: tuple[Any, ...], value: Any) -> None:
    doc = summary_doc()
    _set(doc, value, *path)
    assert problems("summary", doc)


def test_nullable_keys_accept_null_and_others_do_not() -> None:
    doc = summary_doc()
    _set(doc, None, "totals", "receptive_field_covers_input_at")
    assert problems("summary", doc) == []
    for path in (("totals", "arithmetic_intensity"), ("stem", "macs"), ("blocks", 0, "kind")):
        bad = summary_doc()
        _set(bad, None, *path)
        assert problems("summary", bad), path


def test_every_output_carries_its_schema_s_version() -> None:
    """The integer in every document equals the schema's (valid_output checks it for each run
    above; here one of each spec-only output side by side)."""
    runs = {
        "summary": ("summary", "resnet18"), "presets": ("presets",), "shortcuts": ("shortcuts", "resnet18"),
        "memory": ("memory", "resnet18"), "roofline": ("roofline", "resnet18"), "counting": ("counting", "resnet18"),
        "compare": ("compare", "resnet18", "resnet34"), "check": ("check", "resnet18", "--max-params", "20M"),
    }
    for name, args in runs.items():
        code, out, _ = run(*args, "-f", "json")
        assert code == 0
        doc = json.loads(out)
        assert doc["schema_version"] == schemas.load(name)["schema_version"] == 1 and type(doc["schema_version"]) is int
    bumped = {**json.loads(run("counting", "resnet18", "-f", "json")[1]), "schema_version": 2}
    assert problems("counting", bumped)
