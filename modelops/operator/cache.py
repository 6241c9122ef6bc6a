"""What the operator last saw of every object it watches: its own kinds and the children it owns.

Reconciles read from here, not from the API server, so an idle operator asks the API server
nothing. Each object is kept as compact JSON without its `managedFields` (most of its size),
deflated against the first object of its kind the cache saw, and parsed into a typed view when
read: tens of thousands of objects as Python dicts would not fit a small pod, and objects of one
kind share most of their text, so with that preset dictionary a 4 KB Deployment keeps ~300 bytes
(the operator's RSS grew ~55 MB per 1,000 ModelDeployments with plain JSON, 24 KB of it per
ModelDeployment in this cache). Writes the operator makes update the cache with the API server's
answer; a watch event older than what is cached is ignored, so a late event can never roll the
cache back past the operator's own write.
"""

from __future__ import annotations

import threading
import zlib
from collections.abc import Iterator
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

Manifest = dict[str, Any]
T = TypeVar("T", bound=BaseModel)
_Entry = tuple[int | None, bytes]  # (resourceVersion as a number, deflated compact JSON)
# Level 1: the preset dictionary does the work; higher levels save ~20% more at twice the CPU.
_LEVEL = 1


def _revision(manifest: Manifest) -> int | None:
    try:
        return int(manifest["metadata"].get("resourceVersion", ""))
    except ValueError:
        return None  # not an etcd revision: every event counts as newer


def _compact(manifest: Manifest) -> bytes:
    metadata = {k: v for k, v in manifest.get("metadata", {}).items() if k != "managedFields"}
    return orjson.dumps({**manifest, "metadata": metadata})


def _deflate(data: bytes, dictionary: bytes) -> bytes:
    compressor = zlib.compressobj(_LEVEL, zdict=dictionary)
    return compressor.compress(data) + compressor.flush()


def _inflate(blob: bytes, dictionary: bytes) -> bytes:
    return zlib.decompressobj(zdict=dictionary).decompress(blob)


class ObjectCache:
    """Thread-safe: kind (plural) -> namespace -> name -> the last seen version of the object."""

    def __init__(self) -> None:
        self._kinds: dict[str, dict[str, dict[str, _Entry]]] = {}
        # Per kind, fixed once chosen: every entry of the kind is inflated with the dictionary it was deflated with.
        self._dictionaries: dict[str, bytes] = {}
        self._guard = threading.Lock()

    def observe(self, plural: str, manifest: Manifest) -> bool:
        """Keep `manifest` unless a newer version is cached; whether it was kept."""
        meta = manifest["metadata"]
        namespace, name = str(meta.get("namespace", "")), meta["name"]
        revision, data = _revision(manifest), _compact(manifest)
        with self._guard:
            # A late event is dropped before the work of deflating it.
            if self._is_older(plural, namespace, name, revision):
                return False
            dictionary = self._dictionaries.setdefault(plural, data)
        blob = _deflate(data, dictionary)  # outside the lock: the watch threads deflate side by side
        with self._guard:
            if self._is_older(plural, namespace, name, revision):  # a newer one came in meanwhile
                return False
            self._kinds.setdefault(plural, {}).setdefault(namespace, {})[name] = (revision, blob)
            return True

    def _is_older(self, plural: str, namespace: str, name: str, revision: int | None) -> bool:
        known = self._kinds.get(plural, {}).get(namespace, {}).get(name)
        return known is not None and known[0] is not None and revision is not None and revision < known[0]

    def forget(self, plural: str, namespace: str, name: str) -> None:
        with self._guard:
            self._kinds.get(plural, {}).get(namespace, {}).pop(name, None)

    def get(self, plural: str, model: type[T], *, namespace: str, name: str) -> T | None:
        """The cached object parsed into `model`; None when the watch knows no such object."""
        data = self._json(plural, namespace, name)
        return model.model_validate_json(data) if data is not None else None

    def raw(self, plural: str, *, namespace: str, name: str) -> Manifest | None:
        data = self._json(plural, namespace, name)
        parsed: Manifest | None = orjson.loads(data) if data is not None else None
        return parsed

    def _json(self, plural: str, namespace: str, name: str) -> bytes | None:
        found = self._kinds.get(plural, {}).get(namespace, {}).get(name)
        return _inflate(found[1], self._dictionaries[plural]) if found is not None else None

    def items(self, plural: str, model: type[T], *, namespace: str) -> Iterator[T]:
        """Every cached object of a kind in a namespace, parsed into `model`."""
        with self._guard:
            entries = list(self._kinds.get(plural, {}).get(namespace, {}).values())
        for _, blob in entries:
            yield model.model_validate_json(_inflate(blob, self._dictionaries[plural]))

    def names(self, plural: str) -> list[tuple[str, str]]:
        """(namespace, name) of every cached object of a kind."""
        with self._guard:
            return [(ns, name) for ns, names in self._kinds.get(plural, {}).items() for name in names]

    def count(self, plural: str) -> int:
        with self._guard:
            return sum(len(names) for names in self._kinds.get(plural, {}).values())

    def stored_bytes(self) -> int:
        """What the cached objects take, dictionaries included (the operator logs it)."""
        with self._guard:
            entries = sum(len(blob) for names in self._kinds.values() for n in names.values() for _, blob in n.values())
            return entries + sum(len(d) for d in self._dictionaries.values())
