"""Generates `crds/*.yaml` from the pydantic models, which stay the single source of truth.

pydantic emits JSON Schema 2020-12; the API server wants a *structural* OpenAPI v3
schema: no `$ref`, no `anyOf` for optional fields, boolean `exclusiveMinimum`, and
`x-kubernetes-preserve-unknown-fields` where a field holds free-form values.

Usage: python -m modelops.api.crdgen [--check] [OUTPUT_DIR ...]
(default: `crds/` and the Helm chart's `charts/modelops/crds/`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from modelops.api.common import GROUP, VERSION
from modelops.api.kinds import CATEGORY, KINDS, Kind

JsonSchema = dict[str, Any]
_PASSTHROUGH = (
    "type", "description", "enum", "format", "pattern", "minimum", "maximum", "minLength", "maxLength",
    "minItems", "maxItems", "minProperties", "maxProperties", "default",
    "x-kubernetes-validations", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-int-or-string",
)  # fmt: skip


def structural(schema: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    """Rewrite one pydantic JSON Schema node as a structural OpenAPI v3 node."""
    if "$ref" in schema:
        target = structural(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {**target, **{k: v for k, v in schema.items() if k in ("description", "default")}}
    if "anyOf" in schema:
        return _any_of(schema, defs)
    out: JsonSchema = {k: v for k, v in schema.items() if k in _PASSTHROUGH}
    if "const" in schema:
        out["enum"] = [schema["const"]]
    for bound in ("exclusiveMinimum", "exclusiveMaximum"):
        if bound in schema:
            out["minimum" if bound == "exclusiveMinimum" else "maximum"] = schema[bound]
            out[bound] = True
    if out.get("x-kubernetes-preserve-unknown-fields"):
        if out.get("type") != "object":
            out.pop("type", None)
        return out
    if "properties" in schema:
        out["type"] = "object"
        out["properties"] = {name: structural(prop, defs) for name, prop in schema["properties"].items()}
        required = [name for name in schema.get("required", []) if "default" not in schema["properties"][name]]
        if required:
            out["required"] = required
    elif schema.get("type") == "object" and isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = structural(schema["additionalProperties"], defs)
    if schema.get("type") == "array":
        out["items"] = structural(schema.get("items", {}), defs)
    if "default" in out and (out["default"] is None or (out["default"] == {} and "properties" in out)):
        del out["default"]
    return out


def _any_of(schema: JsonSchema, defs: dict[str, JsonSchema]) -> JsonSchema:
    """Optional fields (`X | None`) become X; a number-or-string becomes int-or-string."""
    variants = [v for v in schema["anyOf"] if v.get("type") != "null"]
    extra = {k: v for k, v in schema.items() if k in _PASSTHROUGH and k != "type"}
    if len(variants) == 1:
        inner = structural(variants[0], defs)
        return {**inner, **{k: v for k, v in extra.items() if v is not None or k != "default"}}
    if extra.get("x-kubernetes-int-or-string"):
        return {k: v for k, v in extra.items() if v is not None}
    raise ValueError(f"cannot express anyOf {variants} as a structural schema")


def object_schema(kind: Kind) -> JsonSchema:
    spec = kind.spec.model_json_schema(by_alias=True, mode="validation")
    status = kind.status.model_json_schema(by_alias=True, mode="serialization")
    root: JsonSchema = {
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": structural(spec, spec.get("$defs", {})),
            "status": structural(status, status.get("$defs", {})),
        },
    }
    root["properties"]["status"]["x-kubernetes-preserve-unknown-fields"] = True
    if kind.rules:
        root["x-kubernetes-validations"] = list(kind.rules)
    return root


def crd(kind: Kind) -> JsonSchema:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": [kind.short_name],
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [column.wire() for column in kind.columns],
                    "schema": {"openAPIV3Schema": object_schema(kind)},
                }
            ],
        },
    }


def render(kind: Kind) -> str:
    header = "# Generated by `python -m modelops.api.crdgen` from modelops/api; do not edit.\n"
    return header + yaml.safe_dump(crd(kind), sort_keys=False, width=120)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("output", nargs="*", default=[Path("crds"), Path("charts/modelops/crds")], type=Path)
    parser.add_argument("--check", action="store_true", help="fail when the files differ instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for directory, kind in ((d, k) for d in args.output for k in KINDS):
        path: Path = directory / f"{kind.crd_name}.yaml"
        text = render(kind)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print(f"stale CRDs, run `python -m modelops.api.crdgen`: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
