"""The recipe contract of DESIGN.md: waste items with mass fractions, a process and a regolith share.

A recipe is validated against the inventory and the process catalog; a malformed recipe is
rejected with a reason, never guessed at. Its default id is a hash of the whole canonical spec,
fractions included, so two different mixes of the same items never share an id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from rexai_assets.contract import FRACTION_TOLERANCE, MAX_ITEMS, MAX_REGOLITH_FRAC  # noqa: F401 - MAX_ITEMS re-exported
from rexai_assets.hashing import canonical_json, sha256_bytes
ID_DECIMALS = 6


class RecipeError(ValueError):
    """A recipe that cannot be used, with the reason."""


@dataclass(frozen=True)
class RecipeCatalog:
    """The ids a recipe may name."""

    waste_ids: frozenset[str]
    process_ids: frozenset[str]

    @classmethod
    def from_frames(cls, inventory: Any, processes: Any) -> "RecipeCatalog":
        return cls(frozenset(inventory["waste_id"].astype(str)), frozenset(processes["process_id"].astype(str)))


@dataclass(frozen=True)
class Recipe:
    items: tuple[tuple[str, float], ...]  # (waste_id, mass_frac), sorted by waste_id
    process_id: str
    regolith_frac: float
    recipe_id: str

    def spec(self) -> dict:
        return {
            "recipe_id": self.recipe_id,
            "items": [{"waste_id": w, "mass_frac": f} for w, f in self.items],
            "process_id": self.process_id,
            "regolith_frac": self.regolith_frac,
        }

    def to_json(self) -> str:
        return canonical_json(self.spec())


def canonical_spec(items: Iterable[tuple[str, float]], process_id: str, regolith_frac: float) -> dict:
    return {
        "items": [[w, round(float(f), ID_DECIMALS)] for w, f in sorted(items)],
        "process_id": process_id,
        "regolith_frac": round(float(regolith_frac), ID_DECIMALS),
    }


def content_hash(items: Iterable[tuple[str, float]], process_id: str, regolith_frac: float) -> str:
    """The sha256 of the canonical spec: what a recipe is, whatever id it was given."""
    return sha256_bytes(canonical_json(canonical_spec(items, process_id, regolith_frac)).encode())


def default_recipe_id(items: Iterable[tuple[str, float]], process_id: str, regolith_frac: float) -> str:
    """`R-` + the first 16 hex digits of the sha256 of the canonical spec."""
    return "R-" + content_hash(items, process_id, regolith_frac)[:16]


def recipe_key(recipe: "Recipe") -> str:
    """The default id of a recipe's content: the key measurements and predictions of one mix share."""
    return default_recipe_id(recipe.items, recipe.process_id, recipe.regolith_frac)


def spec_identity(spec: str | Mapping[str, Any]) -> tuple[str, str]:
    """(recipe_key, content hash) of a stored spec (JSON text or `Recipe.spec()`), without re-validating it."""
    obj = json.loads(spec) if isinstance(spec, str) else spec
    items = [(str(i["waste_id"]), float(i["mass_frac"])) for i in obj["items"]]
    digest = content_hash(items, str(obj["process_id"]), float(obj.get("regolith_frac") or 0.0))
    return "R-" + digest[:16], digest


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise RecipeError(f"{what} must be a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise RecipeError(f"{what} must be a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise RecipeError(f"{what} must be finite, got {value!r}")
    return number


def parse_recipe(obj: str | Mapping[str, Any], catalog: RecipeCatalog | None = None) -> Recipe:
    """Validate a recipe (dict or JSON text) and return it in canonical form."""
    if isinstance(obj, (str, bytes)):
        try:
            obj = json.loads(obj)
        except json.JSONDecodeError as exc:
            raise RecipeError(f"recipe is not valid JSON ({exc.msg})") from None
    if not isinstance(obj, Mapping):
        raise RecipeError("recipe must be a JSON object")
    unknown_keys = set(obj) - {"recipe_id", "items", "process_id", "regolith_frac"}
    if unknown_keys:
        raise RecipeError(f"unknown recipe field(s): {', '.join(sorted(unknown_keys))}")
    items = obj.get("items")
    if not isinstance(items, list) or not items:
        raise RecipeError("recipe needs a non-empty list 'items'")
    if len(items) > MAX_ITEMS:
        raise RecipeError(f"recipe has {len(items)} waste items; at most {MAX_ITEMS} are allowed")
    parsed: dict[str, float] = {}
    for position, item in enumerate(items):
        if not isinstance(item, Mapping) or "waste_id" not in item or "mass_frac" not in item:
            raise RecipeError(f"items[{position}] needs 'waste_id' and 'mass_frac'")
        waste_id = str(item["waste_id"]).strip()
        if catalog is not None and waste_id not in catalog.waste_ids:
            raise RecipeError(f"unknown waste_id {waste_id!r}")
        if waste_id in parsed:
            raise RecipeError(f"waste_id {waste_id!r} appears twice")
        frac = _number(item["mass_frac"], f"items[{position}].mass_frac")
        if not 0.0 < frac <= 1.0:
            raise RecipeError(f"items[{position}].mass_frac must be in (0, 1], got {frac}")
        parsed[waste_id] = frac
    total = sum(parsed.values())
    if abs(total - 1.0) > FRACTION_TOLERANCE:
        raise RecipeError(f"waste mass fractions sum to {total:.4f}, not 1")
    process_id = obj.get("process_id")
    if not isinstance(process_id, str) or not process_id.strip():
        raise RecipeError("recipe needs a 'process_id'")
    process_id = process_id.strip()
    if catalog is not None and process_id not in catalog.process_ids:
        raise RecipeError(f"unknown process_id {process_id!r}")
    regolith = _number(obj.get("regolith_frac", 0.0), "regolith_frac")
    if not 0.0 <= regolith <= MAX_REGOLITH_FRAC:
        raise RecipeError(f"regolith_frac must be in [0, {MAX_REGOLITH_FRAC}], got {regolith}")
    # Renormalise within tolerance so features see fractions that sum to exactly 1.
    items_sorted = tuple(sorted((w, f / total) for w, f in parsed.items()))
    given_id = obj.get("recipe_id")
    recipe_id = str(given_id).strip() if given_id not in (None, "") else default_recipe_id(
        items_sorted, process_id, regolith)
    return Recipe(items=items_sorted, process_id=process_id, regolith_frac=regolith, recipe_id=recipe_id)
