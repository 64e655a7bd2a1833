"""Recipe features per kg of product, in the order of the feature contract, fully vectorised.

Mass balance (the per-kg-of-product convention). 1 kg of mix holds `w = 1 - regolith_frac` kg of
waste and `r = regolith_frac` kg of MGS-1. A waste item's inventory mass is its dry material
(shared among families as parsed from `key_materials`) plus `moisture_pct` of water. A process
drives off `moisture_release[p]` of the feed water and `regolith_volatile_release[p]` of the
regolith's volatile oxides, so the mix yields

    m = 1 - moisture_release[p] * w * water_feed - regolith_volatile_release[p] * r * volatile_wt

kg of product. Extensive quantities (family masses, feed moisture, difficulty-weighted mass, flag
masses, oxides, data-sheet coverage, catalog costs per kg) are divided by m.

Features:
- `fam_*`: dry mass of the contract's family group per kg of product.
- `moisture`: feed water per kg of product (what a heated process must evaporate).
- `difficulty`: waste mass x inventory difficulty factor (1-3) per kg of product; regolith counts 0.
- `bulk_density_kg_m3`: bulk density of the feed mix, from each item's inventory volume per kg
  and the MGS-1 bulk density (volumes add).
- `flag_*`: mass of the items carrying the flag per kg of product.
- `proc_*`: process one-hot.
- `regolith_frac`: the recipe's regolith share of the mix.
- `ox_stable`, `ox_volatile`: MGS-1 oxides in the product (raw/mgs1_oxides.csv: regolith_frac *
  wt% / 100 per oxide, summed over the stable and over the contract's volatile oxides, the
  volatile ones net of the process release), per kg of product. Per-oxide columns would all be
  exact multiples of regolith_frac (one simulant), which the blocking feature check forbids.
- `sheet_*`: data-sheet properties averaged over the waste's dry mass whose family has a sheet
  value for that property (weights = those families' masses). Mass of families without a sheet
  (aluminium, the thermoset composite, PVDF, polyester, `other`) is left out of the average
  rather than guessed; `sheet_coverage` (covered dry mass per kg of product) tells the model how
  much of the product the averages speak for. With no covered mass at all a property is 0.
- `proc_energy_kwh_per_kg`, `proc_water_l_per_kg`: catalog figures per kg processed, divided by m;
  `proc_crew_min_per_batch`: the catalog's crew minutes per batch.

Input layouts. `features_from_arrays` takes integer arrays (the sampler and the benchmark use it);
`build_features` takes a DataFrame in the *slot* layout: `process_id`, `regolith_frac` and, for
slot k = 1..4, `waste_id_k` (None/NaN when unused) and `mass_frac_k`. `featurize_recipes` takes
`recipes.Recipe` objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from rexai_assets.gold.contract import FeatureContract, ContractError, load_contract
from rexai_assets.recipes import MAX_ITEMS, Recipe

SLOTS = MAX_ITEMS
PROPERTY_COLUMNS = ("density_g_cm3", "tensile_modulus_gpa", "tensile_strength_mpa", "elongation_pct")
SHEET_FEATURES = ("sheet_density_g_cm3", "sheet_modulus_gpa", "sheet_strength_mpa", "sheet_elongation_pct")
CHUNK_ROWS = 200_000  # bounds the temporaries of a gather to tens of MB per chunk


class FeatureError(ValueError):
    """A recipe (row) whose features cannot be computed; the message names the row and reason."""


def slot_columns() -> list[str]:
    return [c for k in range(1, SLOTS + 1) for c in (f"waste_id_{k}", f"mass_frac_{k}")]


@dataclass(frozen=True)
class FeatureContext:
    """Per-item and per-process lookup tables derived once from the raw tables and the contract."""

    contract: FeatureContract
    names: tuple[str, ...]
    waste_ids: tuple[str, ...]
    item_columns: tuple[str, ...]
    item_table: np.ndarray        # [n_waste + 1, n_item_columns] per kg of item; last row = empty slot
    process_ids: tuple[str, ...]
    proc_energy: np.ndarray       # per contract process
    proc_water: np.ndarray
    proc_crew: np.ndarray
    moisture_release: np.ndarray
    volatile_release: np.ndarray
    stable_wt: float          # mass fraction of MGS-1 in listed stable oxides
    volatile_wt: float            # mass fraction of MGS-1 in listed volatile oxides
    regolith_volume_m3_per_kg: float
    oxides: pd.Series             # oxide -> mass fraction of MGS-1

    def waste_index(self, ids: pd.Series | Sequence) -> np.ndarray:
        return pd.Index(self.waste_ids).get_indexer(pd.Series(ids, dtype=object).fillna("__none__").astype(str))

    def process_index(self, ids: pd.Series | Sequence) -> np.ndarray:
        return pd.Index(self.process_ids).get_indexer(pd.Series(ids, dtype=object).astype(str))


def family_shares(tables, waste_ids: tuple[str, ...], contract: FeatureContract) -> pd.DataFrame:
    """Share of each raw material family per waste item (rows in `waste_ids` order); every family mapped."""
    shares = (tables.materials.pivot_table(index="waste_id", columns="family", values="share", aggfunc="sum")
              .reindex(index=list(waste_ids)).fillna(0.0))
    group_of = {raw: group for group, raws in contract.families.items() for raw in raws}
    unmapped = sorted(set(shares.columns) - set(group_of))
    if unmapped:
        raise ContractError(f"feature_contract.yaml: material family {unmapped[0]!r} of waste_materials "
                            f"is in no feature family")
    return shares


def property_columns(tables, shares: pd.DataFrame, dry: np.ndarray) -> dict[str, np.ndarray]:
    """Per data-sheet property: the dry mass share it covers and the mass-weighted sum; and any coverage."""
    props = tables.family_properties.reindex(columns=list(PROPERTY_COLUMNS))
    n = len(shares)
    columns: dict[str, np.ndarray] = {}
    for prop in PROPERTY_COLUMNS:
        values = props[prop].dropna()
        covered = [f for f in values.index if f in shares.columns]
        mass = shares[covered].to_numpy() * dry[:, None] if covered else np.zeros((n, 0))
        columns[f"cov_{prop}"] = mass.sum(axis=1)
        columns[f"sum_{prop}"] = (mass * values[covered].to_numpy()[None, :]).sum(axis=1) if covered else np.zeros(n)
    families = [f for f in props.dropna(how="all").index if f in shares.columns]
    columns["cov_any"] = sum((dry * shares[f].to_numpy() for f in families), np.zeros(n))
    return columns


def item_columns(tables, inventory: pd.DataFrame, waste_ids: tuple[str, ...],
                 contract: FeatureContract) -> dict[str, np.ndarray]:
    """Per waste item, the per-kg quantities the recipe features mix: families, water, flags, properties."""
    shares = family_shares(tables, waste_ids, contract)
    dry = 1.0 - inventory["moisture_pct"].to_numpy(float) / 100.0
    columns: dict[str, np.ndarray] = {}
    for group, raws in contract.families.items():
        present = [f for f in raws if f in shares.columns]
        columns[group] = dry * (shares[present].sum(axis=1).to_numpy() if present else 0.0)
    columns["water"] = inventory["moisture_pct"].to_numpy(float) / 100.0
    columns["difficulty"] = inventory["difficulty_factor"].to_numpy(float)
    flags = inventory["flags"].fillna("").astype(str).map(lambda s: {f.strip() for f in s.split(";")})
    for name, flag in contract.flags.items():
        columns[name] = flags.map(lambda fs, flag=flag: flag in fs).to_numpy(float)
    columns["volume"] = (inventory["volume_m3"] / inventory["mass_kg"]).to_numpy(float)
    columns.update(property_columns(tables, shares, dry))
    return columns


def regolith_constants(tables, contract: FeatureContract) -> tuple[pd.Series, float, float]:
    """MGS-1 oxide fractions, their volatile share, and the regolith density (kg/m3)."""
    oxides = tables.oxides.set_index("oxide")["wt_percent"].astype(float) / 100.0
    unknown_volatile = [o for o in contract.volatile_oxides if o not in oxides.index]
    if unknown_volatile:
        raise ContractError(f"feature_contract.yaml: volatile oxide {unknown_volatile[0]} is not in mgs1_oxides")
    volatile = float(oxides[oxides.index.isin(contract.volatile_oxides)].sum())
    props_mgs = tables.mgs1_properties.set_index("property")["value"]
    if contract.regolith_density_property not in props_mgs.index:
        raise ContractError(f"feature_contract.yaml: mgs1_properties has no {contract.regolith_density_property!r}")
    return oxides, volatile, float(props_mgs[contract.regolith_density_property]) * 1000.0


def feature_context(tables, contract: FeatureContract | None = None) -> FeatureContext:
    """Lookup tables for `tables` (a `rexai_assets.raw.tables.RawTables`)."""
    contract = contract or load_contract()
    inventory = tables.inventory.sort_values("waste_id").reset_index(drop=True)
    waste_ids = tuple(inventory["waste_id"].astype(str))
    columns = item_columns(tables, inventory, waste_ids, contract)
    table = np.column_stack(list(columns.values()))
    table = np.vstack([table, np.zeros((1, table.shape[1]))])
    processes = tables.processes.set_index("process_id")
    missing = [p for p in contract.processes if p not in processes.index]
    if missing:
        raise ContractError(f"feature_contract.yaml: process {missing[0]} is not in process_catalog")
    processes = processes.loc[list(contract.processes)]
    oxides, volatile, density_kg_m3 = regolith_constants(tables, contract)
    return FeatureContext(
        contract=contract, names=tuple(contract.features), waste_ids=waste_ids, item_columns=tuple(columns),
        item_table=table, process_ids=tuple(contract.processes),
        proc_energy=processes["energy_kwh_per_kg"].to_numpy(float),
        proc_water=processes["water_l_per_kg"].to_numpy(float),
        proc_crew=processes["crew_min_per_batch"].to_numpy(float),
        moisture_release=np.array([contract.moisture_release.get(p, 0.0) for p in contract.processes]),
        volatile_release=np.array([contract.regolith_volatile_release.get(p, 0.0) for p in contract.processes]),
        stable_wt=float(oxides.sum() - volatile), volatile_wt=volatile,
        regolith_volume_m3_per_kg=1.0 / density_kg_m3, oxides=oxides,
    )


def _chunk(ctx: FeatureContext, item_idx: np.ndarray, item_frac: np.ndarray, process_idx: np.ndarray,
           regolith: np.ndarray) -> np.ndarray:
    n = len(process_idx)
    col = {c: i for i, c in enumerate(ctx.item_columns)}
    idx = np.where(item_idx < 0, len(ctx.waste_ids), item_idx)
    waste = np.zeros((n, ctx.item_table.shape[1]))
    for slot in range(idx.shape[1]):
        waste += item_frac[:, slot, None] * ctx.item_table[idx[:, slot]]   # per kg of waste
    r = regolith
    w = 1.0 - r
    water_feed = w * waste[:, col["water"]]
    m = 1.0 - ctx.moisture_release[process_idx] * water_feed - ctx.volatile_release[process_idx] * r * ctx.volatile_wt
    per_product = w / m
    out = np.empty((n, len(ctx.names)))
    position = {name: i for i, name in enumerate(ctx.names)}

    def put(name: str, values: np.ndarray) -> None:
        out[:, position[name]] = values

    for group in ctx.contract.families:
        put(group, waste[:, col[group]] * per_product)
    for flag in ctx.contract.flags:
        put(flag, waste[:, col[flag]] * per_product)
    put("moisture", water_feed / m)
    put("difficulty", waste[:, col["difficulty"]] * per_product)
    put("bulk_density_kg_m3", 1.0 / (w * waste[:, col["volume"]] + r * ctx.regolith_volume_m3_per_kg))
    for k, process in enumerate(ctx.process_ids):
        put(f"proc_{process}", (process_idx == k).astype(float))
    put("regolith_frac", r)
    put("ox_stable", r * ctx.stable_wt / m)
    put("ox_volatile", r * ctx.volatile_wt * (1.0 - ctx.volatile_release[process_idx]) / m)
    for feature, prop in zip(SHEET_FEATURES, PROPERTY_COLUMNS):
        covered = waste[:, col[f"cov_{prop}"]]
        with np.errstate(invalid="ignore", divide="ignore"):
            put(feature, np.where(covered > 0, waste[:, col[f"sum_{prop}"]] / covered, 0.0))
    put("sheet_coverage", waste[:, col["cov_any"]] * per_product)
    put("proc_energy_kwh_per_kg", ctx.proc_energy[process_idx] / m)
    put("proc_water_l_per_kg", ctx.proc_water[process_idx] / m)
    put("proc_crew_min_per_batch", ctx.proc_crew[process_idx])
    return out


def features_from_arrays(ctx: FeatureContext, item_idx: np.ndarray, item_frac: np.ndarray,
                         process_idx: np.ndarray, regolith: np.ndarray) -> np.ndarray:
    """Feature matrix [n, n_features] (contract order) from index arrays.

    item_idx [n, slots] indexes `ctx.waste_ids` (-1 = empty slot), item_frac [n, slots] the waste
    mass fractions (summing to 1 per row), process_idx [n] indexes `ctx.process_ids`, regolith [n].
    """
    item_idx = np.asarray(item_idx, dtype=np.int64)
    item_frac = np.asarray(item_frac, dtype=float)
    process_idx = np.asarray(process_idx, dtype=np.int64)
    regolith = np.asarray(regolith, dtype=float)
    n = len(process_idx)
    out = np.empty((n, len(ctx.names)))
    for start in range(0, n, CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, n)
        out[start:stop] = _chunk(ctx, item_idx[start:stop], item_frac[start:stop], process_idx[start:stop],
                                 regolith[start:stop])
    return out


def slot_arrays(recipes: pd.DataFrame, ctx: FeatureContext) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index arrays from the slot layout; raises FeatureError naming the first bad row."""
    n = len(recipes)
    ids = recipes["recipe_id"].astype(str).to_numpy() if "recipe_id" in recipes else np.arange(n).astype(str)
    item_idx = np.full((n, SLOTS), -1, dtype=np.int64)
    item_frac = np.zeros((n, SLOTS))
    for k in range(1, SLOTS + 1):
        if f"waste_id_{k}" not in recipes:
            continue
        given = recipes[f"waste_id_{k}"].notna().to_numpy()
        item_idx[:, k - 1] = np.where(given, ctx.waste_index(recipes[f"waste_id_{k}"]), -1)
        unknown = given & (item_idx[:, k - 1] < 0)
        if unknown.any():
            row = int(np.argmax(unknown))
            raise FeatureError(f"recipe {ids[row]}: unknown waste_id {recipes[f'waste_id_{k}'].iloc[row]!r}")
        item_frac[:, k - 1] = np.where(given, pd.to_numeric(recipes[f"mass_frac_{k}"], errors="coerce").fillna(np.nan), 0.0)
    bad_frac = ~np.isfinite(item_frac).all(axis=1) | (np.abs(item_frac.sum(axis=1) - 1.0) > 1e-3) | ((item_idx >= 0).sum(axis=1) == 0)
    if bad_frac.any():
        row = int(np.argmax(bad_frac))
        raise FeatureError(f"recipe {ids[row]}: waste mass fractions sum to {np.nansum(item_frac[row]):.4f}, not 1")
    process_idx = ctx.process_index(recipes["process_id"])
    if (process_idx < 0).any():
        row = int(np.argmax(process_idx < 0))
        raise FeatureError(f"recipe {ids[row]}: process {recipes['process_id'].iloc[row]!r} is not in the feature contract")
    regolith = pd.to_numeric(recipes["regolith_frac"], errors="coerce").to_numpy(float)
    bad_r = ~np.isfinite(regolith) | (regolith < 0) | (regolith > 0.5)
    if bad_r.any():
        row = int(np.argmax(bad_r))
        raise FeatureError(f"recipe {ids[row]}: regolith_frac {regolith[row]!r} outside [0, 0.5]")
    return item_idx, item_frac, process_idx, regolith


def build_features(recipes: pd.DataFrame, tables, ctx: FeatureContext | None = None) -> np.ndarray:
    """Feature matrix [n, n_features] (contract order) for recipes in the slot layout."""
    ctx = ctx or feature_context(tables)
    return features_from_arrays(ctx, *slot_arrays(recipes, ctx))


def recipes_to_slots(recipes: Sequence[Recipe]) -> pd.DataFrame:
    """Slot layout (recipe_id, recipe_spec, process_id, regolith_frac, waste_id_k, mass_frac_k)."""
    rows = []
    for recipe in recipes:
        row: dict = {"recipe_id": recipe.recipe_id, "recipe_spec": recipe.to_json(),
                     "process_id": recipe.process_id, "regolith_frac": float(recipe.regolith_frac)}
        for k in range(1, SLOTS + 1):
            item = recipe.items[k - 1] if k <= len(recipe.items) else (None, np.nan)
            row[f"waste_id_{k}"], row[f"mass_frac_{k}"] = item[0], float(item[1])
        rows.append(row)
    columns = ["recipe_id", "recipe_spec", "process_id", "regolith_frac", *slot_columns()]
    return pd.DataFrame(rows, columns=columns)


def featurize_recipes(recipes: Sequence[Recipe], tables, ctx: FeatureContext | None = None) -> pd.DataFrame:
    """Features of a (small) list of recipes: DataFrame[feature_names] indexed by recipe_id."""
    ctx = ctx or feature_context(tables)
    slots = recipes_to_slots(recipes)
    values = build_features(slots, tables, ctx) if len(slots) else np.empty((0, len(ctx.names)))
    return pd.DataFrame(values, columns=list(ctx.names), index=pd.Index(slots["recipe_id"], name="recipe_id"))


def feature_problems(X: np.ndarray, names: Sequence[str], tolerance: float = 1e-9) -> list[str]:
    """Features that are all-NaN, constant, or an exact multiple of another (the blocking check)."""
    X = np.asarray(X, dtype=float)
    problems: list[str] = []
    if X.shape[0] == 0:
        return ["no rows"]
    all_nan = np.isnan(X).all(axis=0)
    finite = np.where(np.isnan(X), np.nan, X)
    filled = np.where(all_nan[None, :], 0.0, finite)  # all-NaN columns are reported once, above
    constant = ~all_nan & (np.nanmax(filled, axis=0) == np.nanmin(filled, axis=0))
    problems += [f"{names[j]}: all NaN" for j in np.flatnonzero(all_nan)]
    problems += [f"{names[j]}: constant ({np.nanmax(filled[:, j]):.6g})" for j in np.flatnonzero(constant)]
    usable = np.flatnonzero(~all_nan & ~constant)
    Z = np.nan_to_num(X[:, usable])
    norms = np.linalg.norm(Z, axis=0)
    nonzero = norms > 0
    cosine = (Z.T @ Z) / np.outer(np.where(nonzero, norms, 1), np.where(nonzero, norms, 1))
    i, j = np.nonzero(np.triu(np.abs(cosine) >= 1.0 - tolerance, k=1))
    for a, b in zip(i, j):
        ratio = norms[b] / norms[a] if norms[a] else float("nan")
        problems.append(f"{names[usable[b]]}: exact multiple of {names[usable[a]]} (x{ratio:.6g})")
    return problems
