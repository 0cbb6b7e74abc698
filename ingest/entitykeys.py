"""One key per physical entity, from the forms sensors report it in.

Plates are read by cameras as ``浙B12345``, ``浙B 12345`` or ``浙B·12345``; phones are
written with +86, 0086 and separators; MACs with colons, dashes or nothing. The
space-time index interns entities by these keys (:mod:`graph.spacetime.entities`), and
a worker validating ahead (:mod:`ingest.ahead`) makes them for the pipeline.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from ingest.identifiers import normalize_phone

__all__ = ["entity_key"]

_PLATE_JUNK = re.compile(r"[\s·•\-.]")


@functools.lru_cache(maxsize=1 << 16)  # pure; busy entities are read again and again
def entity_key(kind: str, value: str) -> str:
    """One key per physical entity: ``plate:浙B12345``, ``phone:13812345678``, ``mac:aa:bb:..``.

    >>> entity_key("plate", "浙b·12345"), entity_key("phone", "+86 138-1234-5678")
    ('plate:浙B12345', 'phone:13812345678')
    """
    if kind == "plate":
        return "plate:" + _PLATE_JUNK.sub("", unicodedata.normalize("NFKC", value)).upper()
    if kind == "phone":
        return "phone:" + (normalize_phone(value) or re.sub(r"\D", "", value) or value.strip())
    if kind == "mac":
        hexes = re.sub(r"[^0-9a-fA-F]", "", value).lower()
        return "mac:" + (
            ":".join(hexes[i : i + 2] for i in range(0, 12, 2))
            if len(hexes) == 12
            else value.strip().lower()
        )
    raise ValueError(f"entity kind {kind!r}: expected 'plate', 'phone' or 'mac'")
