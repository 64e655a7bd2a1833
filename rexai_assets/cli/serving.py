"""`rexai recommend`, `rexai predict`, `rexai verify-bundle`: serving from the champion at call time.

Heavy libraries (pandas, scikit-learn, mlflow, torch) are imported inside the handlers, so
`rexai --help` and argument errors stay fast.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

from rexai_assets.cli import CommandError


def _tables() -> Any:
    from rexai_assets.paths import layout
    from rexai_assets.raw.tables import RawFileError, load_raw_tables

    try:
        return load_raw_tables(layout().ensure().raw)
    except RawFileError as exc:
        raise CommandError(f"raw tables: {exc}") from None
    except ValueError as exc:  # too many rejected rows, contract errors
        raise CommandError(str(exc).splitlines()[0]) from None


def _scorer() -> Any:
    from rexai_assets.models.scorer import ServingError, load_scorer

    try:
        return load_scorer()
    except ServingError as exc:
        raise CommandError(str(exc)) from None


def habitat_model(base: Any, args: argparse.Namespace, **wrap: Any) -> tuple[Any, Any]:
    """`base` (the shared Scorer, or with `wrap` a loaded model) adapted to `--habitat`, and the decision
    (None without `--habitat`). Fail closed (models/adapters.py): a refused adapter answers from the shared
    model and says so, or, with `--strict`, ends the command with the reason (exit 1)."""
    from rexai_assets.habitat_config import known_habitats
    from rexai_assets.models.adapters import AdapterRefused, for_habitat
    from rexai_assets.models.scorer import tracking_uri
    from rexai_assets.paths import layout

    habitat = getattr(args, "habitat", None)
    if habitat is None:
        if getattr(args, "strict", False):
            raise CommandError("--strict needs --habitat")
        return base, None
    if habitat not in known_habitats():
        raise CommandError(f"unknown habitat {habitat!r}; config/habitats.yaml lists {', '.join(known_habitats())}")
    try:
        return for_habitat(base, habitat, tracking_uri(), layout().models, strict=args.strict, **wrap)
    except AdapterRefused as exc:
        raise CommandError(f"--strict: {exc}") from None


def habitat_line(decision: Any) -> str | None:
    """The console line about the habitat's adapter (None without --habitat)."""
    if decision is None:
        return None
    if decision.adapter_version is not None:
        return f"habitat {decision.habitat}: adapter v{decision.adapter_version} applied"
    return f"habitat {decision.habitat}: shared model ({decision.note})"


def add_habitat_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--habitat", default=None, metavar="ID",
                        help="apply that habitat's adapter (an id of config/habitats.yaml) when it is safe to")
    parser.add_argument("--strict", action="store_true",
                        help="with --habitat: exit 1 instead of answering from the shared model when its adapter is refused")


def _measured() -> dict:
    """The trusted measured results per recipe key (serving.measured): {} while nothing was ingested."""
    from rexai_assets.paths import layout
    from rexai_assets.serving.measured import load_measured

    try:
        return load_measured(layout().measured_snapshot)
    except (OSError, ValueError) as exc:
        raise CommandError(f"measured results snapshot: {str(exc).splitlines()[0]}") from None


def _log_call(command: str, scorer: Any, served: list, preset: str | None, started: float) -> None:
    """One inference-log file for this call, after the answer was printed; a failure to log is reported,
    not fatal (the answer is already out)."""
    from rexai_assets.paths import layout
    from rexai_assets.models.scorer import log_served

    try:
        log_served(layout().inference_log, command, scorer, served, preset, started)
    except OSError as exc:
        print(f"rexai {command}: warning: inference log not written ({exc.strerror or exc})", file=sys.stderr)


class StartUp:
    """Garbage collection paused while a one-shot serving command starts.

    Importing scikit-learn, torch and MLflow and loading the ensemble allocate millions of objects
    that live as long as the command; the collector walking them again and again while they load
    costs a good part of a second of `rexai recommend`. Collection is off inside the `with` block
    until `ready()`, which freezes what is alive so that the scoring runs with collection on (if it
    was on) but never rescans the start-up objects. On leaving the block the collector is as it was
    and the frozen objects are released back to it, so calling `main()` in-process, as the tests
    do, leaves no trace; for these commands the console script (`cli.run`) freezes everything once
    more at exit."""

    def __init__(self) -> None:
        self.collecting = gc.isenabled()

    def __enter__(self) -> "StartUp":
        gc.disable()
        return self

    def ready(self) -> None:
        gc.freeze()
        if self.collecting:
            gc.enable()

    def __exit__(self, *exc_info: object) -> None:
        gc.unfreeze()
        if self.collecting:
            gc.enable()


# ---------------------------------------------------------------------------------------------
# rexai recommend


def cmd_recommend(args: argparse.Namespace) -> int:
    from rexai_assets.serving import recommend as rc
    from rexai_assets.models.scorer import ServingError

    started = time.perf_counter()
    if args.top is not None and args.top < 1:
        raise CommandError("--top must be at least 1")
    with StartUp() as startup:
        tables = _tables()
        names = [str(n) for n in tables.presets["name"]]
        if args.target not in names:
            raise CommandError(f"unknown target {args.target!r}; valid targets: {', '.join(names)}")
        scorer, decision = habitat_model(_scorer(), args)
        measured = _measured()
        startup.ready()
        try:
            rec = rc.recommend(tables, args.target, scorer, top_n=args.top, measured=measured)
        except (rc.UnknownPreset, ServingError) as exc:
            raise CommandError(str(exc)) from None
    print_recommendation(rec, scorer, args.json, decision)
    _log_call("recommend", scorer, rec.served(), args.target, started)
    return 0


def _measured_text(measured: dict | None) -> str:
    if not measured:
        return ""
    return "measured (trusted): " + "  ".join(f"{t} {m['value']:.3g} (n={m['n']})" for t, m in measured.items())


def print_recommendation(rec: Any, scorer: Any, as_json: bool, decision: Any = None) -> None:
    from rexai_assets.models.scorer import calibration_note

    if as_json:
        if decision is None:
            print(rec.to_json())
        else:
            print(json.dumps({**json.loads(rec.to_json()), **decision.document()}, indent=2, sort_keys=True))
        return
    if habitat_line(decision):
        print(habitat_line(decision))
    p = rec.preset
    origin = f"model v{rec.model_version}" if rec.source == "model" else "HEURISTIC (degraded mode: no champion)"
    print(f"{p.name}: rigidity >= {p.rigidity}, tightness >= {p.tightness}; caps energy {p.max_energy_kwh} kWh/kg, "
          f"water {p.max_water_l} L/kg, crew {p.max_crew_min} min/kg — {origin}")
    c = rec.counts
    print(f"{c['scored']} candidates scored, {c['cap_infeasible']} over a cap (95 %), {c['feasible']} feasible, "
          f"{c['pareto']} on the Pareto front")
    print(calibration_note(rec.calibrated_on, scorer.target_names))
    if rec.ranked.empty:
        print("no candidate is within the caps")
        return
    for row in rec.ranked.to_dict("records"):
        pred = row["prediction"]
        cells = "  ".join(f"{t} {pred[t]['value']:.3g} [{pred[t]['lo']:.3g}, {pred[t]['hi']:.3g}]" for t in pred)
        novelty = "" if row["novelty"] != row["novelty"] else f"  novelty {row['novelty']:.3g}"
        drivers = ", ".join(d["feature"] for d in row["drivers"].get("rigidity", []))
        print(f"{row['rank']:>3}. {row['recipe_id']}  {row['label']}  p_meets {row['p_meets']:.4f}"
              f"{'  [whole interval meets]' if row['interval_meets'] else ''}  score {row['score']:.3f}"
              f"{'  [pareto]' if row['on_pareto'] else ''}{novelty}")
        print(f"     {cells}")
        if row.get("measured"):
            print(f"     {_measured_text(row['measured'])}")
        if drivers:
            print(f"     rigidity driven by: {drivers}")


# ---------------------------------------------------------------------------------------------
# rexai predict


def read_recipes(path: Path) -> list:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CommandError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise CommandError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CommandError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, list):
        raise CommandError(f"{path}: expected a JSON list of recipes")
    if not data:
        raise CommandError(f"{path}: the list of recipes is empty")
    return data


def predictions_document(recipes: list, scorer: Any, tables: Any, measured: dict | None = None,
                         decision: Any = None) -> list[dict]:
    """DESIGN.md's `rexai predict --json` format, scoring every recipe in one batch; `"measured"` where
    trusted measurements of the recipe's content exist; with `--habitat`, `"habitat"`, `"adapter_version"`
    and, when no adapter served, `"adapter_note"` (why)."""
    import numpy as np

    from rexai_assets.gold.features import FeatureError, feature_context, featurize_recipes
    from rexai_assets.recipes import recipe_key
    from rexai_assets.models.scorer import ServingError

    ctx = feature_context(tables)
    if tuple(ctx.names) != tuple(scorer.feature_names):
        raise ServingError("the model's feature names/order differ from the current feature contract")
    try:
        features = featurize_recipes(recipes, tables, ctx)
    except FeatureError as exc:
        raise CommandError(str(exc)) from None
    pred = scorer.predict(features[list(scorer.feature_names)].to_numpy(dtype=np.float64))
    calibrated_on = getattr(scorer, "calibrated_on", None)
    # "calibrated_on" only where the model records it (DESIGN.md: "where they apply").
    extra = {} if calibrated_on is None else {"calibrated_on": dict(calibrated_on)}
    extra.update(decision.document() if decision is not None else {})
    measured = measured or {}
    documents = []
    for i, recipe in enumerate(recipes):
        found = measured.get(recipe_key(recipe))
        documents.append({"recipe_id": recipe.recipe_id, "model_version": scorer.version, "source": scorer.source,
                          "prediction": {t: {k: float(pred[t][k][i]) for k in ("value", "lo", "hi")}
                                         for t in scorer.target_names},
                          **({"measured": found} if found else {}), **extra})
    return documents


def served_recipes(recipes: list, document: list[dict]) -> list:
    """The predicted recipes as inference-log entries."""
    from rexai_assets.inference_log import Served
    from rexai_assets.recipes import content_hash, recipe_key

    return [Served(r.recipe_id, recipe_key(r), content_hash(r.items, r.process_id, r.regolith_frac), d["prediction"])
            for r, d in zip(recipes, document)]


def cmd_predict(args: argparse.Namespace) -> int:
    from rexai_assets.recipes import RecipeCatalog, RecipeError, parse_recipe
    from rexai_assets.models.scorer import ServingError

    started = time.perf_counter()
    path = Path(args.recipes)
    raw = read_recipes(path)
    with StartUp() as startup:
        tables = _tables()
        catalog = RecipeCatalog.from_frames(tables.inventory, tables.processes)
        recipes = []
        for index, obj in enumerate(raw):
            try:
                recipes.append(parse_recipe(obj, catalog))
            except RecipeError as exc:
                rid = obj.get("recipe_id") if isinstance(obj, dict) else None
                raise CommandError(f"{path.name}: recipe {index}{f' ({rid})' if rid else ''}: {exc}") from None
        scorer, decision = habitat_model(_scorer(), args)
        measured = _measured()
        startup.ready()
        try:
            document = predictions_document(recipes, scorer, tables, measured, decision)
        except ServingError as exc:
            raise CommandError(str(exc)) from None
    print_predictions(document, scorer, args.json, decision)
    _log_call("predict", scorer, served_recipes(recipes, document), None, started)
    return 0


def print_predictions(document: list[dict], scorer: Any, as_json: bool, decision: Any = None) -> None:
    from rexai_assets.models.scorer import calibration_note

    if as_json:
        print(json.dumps(document, indent=2))
        return
    origin = f"model v{scorer.version}" if scorer.source == "model" else "HEURISTIC (degraded mode: no champion)"
    print(f"source: {origin}")
    if habitat_line(decision):
        print(habitat_line(decision))
    print(calibration_note(scorer.calibrated_on, scorer.target_names))
    for entry in document:
        cells = "  ".join(f"{t} {v['value']:.3g} [{v['lo']:.3g}, {v['hi']:.3g}]" for t, v in entry["prediction"].items())
        print(f"{entry['recipe_id']}: {cells}")
        if entry.get("measured"):
            print(f"    {_measured_text(entry['measured'])}")


# ---------------------------------------------------------------------------------------------
# rexai verify-bundle


def cmd_verify_bundle(args: argparse.Namespace) -> int:
    from rexai_assets.serving.bundle import verify_bundle

    path = Path(args.path)
    if not path.is_file():
        raise CommandError(f"{path}: no such bundle file")
    report = verify_bundle(path)
    if args.verbose:
        for line in report.problems + [f"warning: {w}" for w in report.warnings]:
            print(line, file=sys.stderr)
    if not report.ok:
        raise CommandError(report.one_line())
    print(report.one_line())
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    rec = subparsers.add_parser("recommend", help="ranked recipes for a target preset from the production model")
    rec.add_argument("--target", required=True, help="preset name from raw/targets_presets.json")
    rec.add_argument("--top", type=int, default=None, help="length of the ranked list (default: config/serving.yaml)")
    rec.add_argument("--json", action="store_true", help="print JSON")
    add_habitat_arguments(rec)
    rec.set_defaults(handler=cmd_recommend, skip_final_collection=True)

    pred = subparsers.add_parser("predict", help="predictions with 95 %% intervals for a JSON list of recipes")
    pred.add_argument("recipes", metavar="RECIPES.json")
    pred.add_argument("--json", action="store_true", help="print JSON")
    add_habitat_arguments(pred)
    pred.set_defaults(handler=cmd_predict, skip_final_collection=True)

    verify = subparsers.add_parser("verify-bundle", help="exit 0 only for an intact, loadable bundle")
    verify.add_argument("path", metavar="PATH")
    verify.add_argument("--verbose", action="store_true", help="list every problem on stderr")
    verify.set_defaults(handler=cmd_verify_bundle)
