"""TLP 2.0 as STIX 2.1 marking definitions and MISP tags, each written once.

The STIX objects are those of the OASIS TLP 2.0 extension (cti-stix-common-objects,
``extension-definition-specifications/tlp-2.0``): fixed ids, ``created``
2022-10-01, the name ``TLP:…`` and the ``tlp_2_0`` property extension. A tool that knows
TLP 2.0 recognises them by id, so they are never made up or reworded here.
"""

from __future__ import annotations

from typing import Any, Final

from exchange.vocab import TLPS

__all__ = [
    "MISP_DISTRIBUTION",
    "TLP2_EXTENSION",
    "TLP2_IDS",
    "TLP_OF_MARKING",
    "marking_definition",
    "tlp_of_marking",
]

#: The OASIS extension-definition every TLP 2.0 marking carries.
TLP2_EXTENSION: Final = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

#: Bulletin ``tlp`` -> the fixed id of its TLP 2.0 marking-definition.
TLP2_IDS: Final = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

#: STIX 2.1's own TLP 1.0 markings (``stix2.TLP_WHITE`` …), read on import only.
_TLP1_IDS: Final = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "clear",  # TLP:WHITE
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}

#: Any known TLP marking id -> bulletin ``tlp``.
TLP_OF_MARKING: Final = {**{v: k for k, v in TLP2_IDS.items()}, **_TLP1_IDS}

#: Bulletin ``tlp`` -> MISP distribution: 0 your organisation only, 1 this community only,
#: 3 all communities. TLP:RED and AMBER(+STRICT) stay in the receiving organisation.
MISP_DISTRIBUTION: Final = {"clear": 3, "green": 1, "amber": 0, "amber+strict": 0, "red": 0}


def marking_definition(tlp: str) -> dict[str, Any]:
    """The TLP 2.0 marking-definition object of a bulletin ``tlp``, as OASIS defines it."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS[tlp],
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{tlp.upper()}",
        "extensions": {TLP2_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": tlp}},
    }


def tlp_of_marking(obj: Any) -> str | None:
    """The bulletin ``tlp`` of a marking id or marking-definition object (None: not TLP)."""
    if isinstance(obj, str):
        return TLP_OF_MARKING.get(obj)
    if not isinstance(obj, dict):
        return None
    known = TLP_OF_MARKING.get(str(obj.get("id")))
    if known:
        return known
    ext = (
        obj.get("extensions", {}).get(TLP2_EXTENSION)
        if isinstance(obj.get("extensions"), dict)
        else None
    )
    if isinstance(ext, dict) and ext.get("tlp_2_0") in TLPS:
        return str(ext["tlp_2_0"])
    definition = obj.get("definition")
    if obj.get("definition_type") == "tlp" and isinstance(definition, dict):
        value = {"white": "clear"}.get(str(definition.get("tlp")), str(definition.get("tlp")))
        return value if value in TLPS else None
    return None
