"""The generated CRDs are current and structural."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from modelops.api import crdgen
from modelops.api.kinds import KINDS, Kind

REPO = Path(__file__).resolve().parents[3]


def test_crds_directory_matches_what_the_models_generate() -> None:
    assert crdgen.main(["--check", str(REPO / "crds"), str(REPO / "charts/modelops/crds")]) == 0, (
        "run `python -m modelops.api.crdgen`"
    )


def test_check_mode_reports_a_stale_crd(tmp_path: Path) -> None:
    crdgen.main([str(tmp_path)])
    (tmp_path / "datasets.modelops.io.yaml").write_text("stale")
    assert crdgen.main(["--check", str(tmp_path)]) == 1


def _nodes(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, child in schema.get("properties", {}).items():
        found += _nodes(child, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        found += _nodes(schema["additionalProperties"], f"{path}[*]")
    if "items" in schema:
        found += _nodes(schema["items"], f"{path}[]")
    return found


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_schema_is_structural(kind: Kind) -> None:
    for path, node in _nodes(crdgen.object_schema(kind)):
        assert not {"$ref", "anyOf", "oneOf", "allOf", "$defs", "title"} & node.keys(), path
        untyped_ok = node.get("x-kubernetes-preserve-unknown-fields") or node.get("x-kubernetes-int-or-string")
        assert "type" in node or untyped_ok, f"{kind.kind}{path} has no type"


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.kind)
def test_crd_has_status_subresource_short_name_and_category(kind: Kind) -> None:
    crd = yaml.safe_load(crdgen.render(kind))
    version = crd["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    assert crd["spec"]["names"]["shortNames"] == [kind.short_name]
    assert crd["spec"]["names"]["categories"] == ["modelops"]
    assert [c["name"] for c in version["additionalPrinterColumns"]][-1] == "Age"


def test_exclusive_bounds_become_openapi_v3_booleans() -> None:
    split = crdgen.object_schema(KINDS[1])["properties"]["spec"]["properties"]["split"]["properties"]
    assert split["train"]["minimum"] == 0 and split["train"]["exclusiveMinimum"] is True
