"""The profile and simulator-spec references are generated from the models and committed: no drift."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path
from types import ModuleType

from drivers.modbus.profiles import ProfileRegistry
from drivers.modbus.simulator.spec import parse_spec

ROOT = Path(__file__).resolve().parents[3]


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_reference", ROOT / "docs" / "generate_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_reference", module)
    spec.loader.exec_module(module)
    return module


def test_committed_references_match_the_generator() -> None:
    for name, text in generator().generated().items():
        committed = (ROOT / "docs" / name).read_text(encoding="utf-8")
        assert committed == text, f"docs/{name} is stale: run python docs/generate_reference.py"


def test_every_key_of_every_model_is_documented() -> None:
    gen = generator()
    text = (ROOT / "docs" / "profile-format.md").read_text(encoding="utf-8")
    for model in [*gen.PROFILE_SECTIONS, *gen.GENERATOR_SECTIONS]:
        for name, info in model.model_fields.items():
            assert f"| `{info.alias or name}` |" in text, f"{model.__name__}.{name}"
            if name != "kind":
                assert info.description, f"{model.__name__}.{name} has no description"
    assert "`order:`" in text and "`CDAB` | big | little" in text and "remove_points" in text


def test_the_documented_examples_are_valid(tmp_path: Path) -> None:
    gen = generator()
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "pm-100.yaml").write_text(gen.PROFILE_EXAMPLE)
    (tmp_path / "acme" / "pm-100-v3.yaml").write_text(gen.VARIANT_EXAMPLE)
    registry = ProfileRegistry.load(tmp_path, strict=True)
    assert registry.get("acme/pm-100").points["voltage"].word_order == "little"
    assert "relay" not in registry.get("acme/pm-100-v3").points
    spec_text = (ROOT / "docs" / "simulator-spec.md").read_text(encoding="utf-8")
    example = spec_text.split("```yaml\n", 1)[1].split("```", 1)[0]
    parse_spec(textwrap.dedent(example), "<documented example>")


def test_the_readme_links_them() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(docs/profile-format.md)" in readme and "(docs/simulator-spec.md)" in readme
