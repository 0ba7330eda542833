#!/usr/bin/env python3
"""Convert the genai-prices v2 feed into Cost Guardian's price table format (pricing/data/prices.json).

Usage:
    python3 pricing/convert_genai_prices.py SOURCE_DIR [--output FILE] [--commit SHA]
    python3 pricing/convert_genai_prices.py SOURCE_DIR --check FILE

SOURCE_DIR holds upstream's `data.json` and `units.json` (e.g. shared/reference/genai-prices). The upstream commit
is read from SOURCE_DIR/README.md ("upstream commit `<sha>`") unless --commit is given.

Why a converter instead of loading data.json directly: the gateway loads one small, validated, deterministic file
whose prices are decimal *strings*, so no price ever passes through a binary float (upstream writes values such as
0.18000000000000002 that a float cannot hold exactly). Informational fields are dropped, the unit registry is baked
in, and the output is byte-identical for identical input so a price change shows up as a readable diff.

Standard library only.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import pathlib
import re
import sys

FORMAT_NAME = "cost-guardian-prices"
FORMAT_VERSION = 1
SOURCE_NAME = "genai-prices"

MATCH_STRING_OPERATORS = ("equals", "starts_with", "ends_with", "contains", "regex")
MATCH_LIST_OPERATORS = ("or", "and")

# Fields that affect matching or pricing. Everything else upstream writes (name, description, pricing_urls,
# price_comments, context_window, deprecated, extractors) is informational for a gateway that receives
# normalised usage, and is dropped.
PROVIDER_FIELDS = ("id", "api_pattern", "provider_match", "model_match", "fallback_model_providers", "models")
PROVIDER_DROPPED = ("name", "description", "pricing_urls", "price_comments", "extractors")
MODEL_FIELDS = ("id", "match", "prices")
MODEL_DROPPED = ("name", "description", "price_comments", "context_window", "deprecated")

# JSON number grammar without a sign: prices are never negative.
DECIMAL_TEXT = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
INTEGER_TEXT = re.compile(r"(?:0|[1-9][0-9]*)\Z")
DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
TIME_TEXT = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})\Z")
COMMIT_IN_README = re.compile(r"upstream commit `([0-9a-f]{40})`")


class ConversionError(Exception):
    """The input breaks the data model; the message names the JSON path."""


def fail(path: str, message: str) -> None:
    raise ConversionError(f"{path}: {message}")


def is_text(value: object) -> bool:
    return isinstance(value, str)


# The source is parsed with parse_float/parse_int returning the literal text, so every number arrives as a str.
# Strings that were strings in the source must therefore be told apart from numbers: the parser wraps numbers.
class Number(str):
    """A JSON number, kept as the exact text the source wrote."""


def load_source(path: pathlib.Path) -> tuple[object, bytes]:
    raw = path.read_bytes()
    try:
        value = json.loads(raw.decode("utf-8"), parse_float=Number, parse_int=Number,
                           parse_constant=lambda name: fail(str(path), f"non-finite number {name}"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConversionError(f"{path}: not valid JSON: {error}") from error
    return value, raw


def check_keys(path: str, obj: dict, allowed: tuple[str, ...], dropped: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(obj) - set(allowed) - set(dropped))
    if unknown:
        fail(path, f"unknown field(s) {', '.join(unknown)}")


def convert_match(path: str, logic: object) -> dict:
    if not isinstance(logic, dict) or len(logic) != 1:
        fail(path, "a match clause must be an object with exactly one operator")
    (operator, operand), = logic.items()
    if operator in MATCH_STRING_OPERATORS:
        if not is_text(operand) or isinstance(operand, Number):
            fail(f"{path}.{operator}", "operand must be a string")
        if operator == "regex":
            try:
                re.compile(operand)
            except re.error as error:
                fail(f"{path}.regex", f"invalid regular expression: {error}")
        return {operator: str(operand)}
    if operator in MATCH_LIST_OPERATORS:
        if not isinstance(operand, list):
            fail(f"{path}.{operator}", "operand must be an array of match clauses")
        return {operator: [convert_match(f"{path}.{operator}[{i}]", c) for i, c in enumerate(operand)]}
    fail(path, f"unknown match operator '{operator}'")
    return {}


def convert_decimal(path: str, value: object) -> str:
    if not isinstance(value, Number):
        fail(path, "a price must be a JSON number")
    if not DECIMAL_TEXT.match(value):
        fail(path, f"price '{value}' is not a non-negative decimal")
    return str(value)


def convert_integer(path: str, value: object) -> int:
    if not isinstance(value, Number) or not INTEGER_TEXT.match(value):
        fail(path, "must be a non-negative integer")
    return int(value)


def convert_price(path: str, value: object) -> object:
    if isinstance(value, dict):
        check_keys(path, value, ("base", "tiers"))
        if "base" not in value or "tiers" not in value:
            fail(path, "a tiered price needs 'base' and 'tiers'")
        if not isinstance(value["tiers"], list):
            fail(f"{path}.tiers", "must be an array")
        tiers = []
        for i, tier in enumerate(value["tiers"]):
            tier_path = f"{path}.tiers[{i}]"
            if not isinstance(tier, dict):
                fail(tier_path, "must be an object")
            check_keys(tier_path, tier, ("start", "price"))
            if "start" not in tier or "price" not in tier:
                fail(tier_path, "a tier needs 'start' and 'price'")
            tiers.append({"start": convert_integer(f"{tier_path}.start", tier["start"]),
                          "price": convert_decimal(f"{tier_path}.price", tier["price"])})
        # Tier order in the source is not significant (the rule is "every tier whose start is exceeded"), so the
        # converter writes them sorted; the loader still sorts, for hand-written files.
        tiers.sort(key=lambda t: t["start"])
        return {"base": convert_decimal(f"{path}.base", value["base"]), "tiers": tiers}
    return convert_decimal(path, value)


def convert_price_set(path: str, prices: object, price_keys: set[str]) -> dict:
    if not isinstance(prices, dict):
        fail(path, "a price set must be an object")
    unknown = sorted(set(prices) - price_keys)
    if unknown:
        # Upstream clients ignore unknown price keys (and so under-price). Refusing here makes a new unit a
        # deliberate change: update units.json and the loader, then convert again.
        fail(path, f"unknown price key(s) {', '.join(unknown)}: not in units.json")
    return {key: convert_price(f"{path}.{key}", value) for key, value in prices.items()}


def check_date(path: str, text: object) -> str:
    if not is_text(text) or isinstance(text, Number) or not DATE_TEXT.match(text):
        fail(path, "start_date must be 'YYYY-MM-DD'")
    try:
        parsed = datetime.date.fromisoformat(text)
    except ValueError as error:
        fail(path, f"invalid date '{text}': {error}")
    if parsed.year < 1:
        fail(path, f"invalid date '{text}'")
    return str(text)


def check_time(path: str, text: object) -> str:
    if not is_text(text) or isinstance(text, Number):
        fail(path, "must be a string")
    found = TIME_TEXT.match(text)
    if not found:
        fail(path, f"time '{text}' is not 'HH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM)'")
    hours, minutes, seconds = (int(found.group(i)) for i in (1, 2, 3))
    if hours > 23 or minutes > 59 or seconds > 59:
        fail(path, f"time '{text}' is out of range")
    zone = found.group(5)
    if zone != "Z" and (int(zone[1:3]) > 23 or int(zone[4:6]) > 59):
        fail(path, f"time '{text}' has an out-of-range offset")
    return str(text)


def convert_constraint(path: str, constraint: object) -> dict:
    if not isinstance(constraint, dict):
        fail(path, "must be an object")
    keys = set(constraint)
    if keys == {"start_date"}:
        return {"start_date": check_date(f"{path}.start_date", constraint["start_date"])}
    if keys == {"start_time", "end_time"}:
        return {"start_time": check_time(f"{path}.start_time", constraint["start_time"]),
                "end_time": check_time(f"{path}.end_time", constraint["end_time"])}
    fail(path, f"unknown constraint with keys {', '.join(sorted(keys)) or '(none)'}")
    return {}


def convert_prices(path: str, prices: object, price_keys: set[str]) -> object:
    if isinstance(prices, list):
        if not prices:
            fail(path, "a conditional price list must not be empty")
        converted = []
        for i, element in enumerate(prices):
            element_path = f"{path}[{i}]"
            if not isinstance(element, dict):
                fail(element_path, "must be an object")
            check_keys(element_path, element, ("constraint", "prices"))
            if "prices" not in element:
                fail(element_path, "missing 'prices'")
            out = {"prices": convert_price_set(f"{element_path}.prices", element["prices"], price_keys)}
            if "constraint" in element:
                out["constraint"] = convert_constraint(f"{element_path}.constraint", element["constraint"])
            converted.append(out)
        return converted
    return convert_price_set(path, prices, price_keys)


def require_id(path: str, obj: dict) -> str:
    value = obj.get("id")
    if not is_text(value) or isinstance(value, Number) or not value or re.search(r"\s", value):
        fail(f"{path}.id", "must be a non-empty string without whitespace")
    return str(value)


def convert_model(path: str, model: object, price_keys: set[str]) -> dict:
    if not isinstance(model, dict):
        fail(path, "must be an object")
    check_keys(path, model, MODEL_FIELDS, MODEL_DROPPED)
    for field in ("match", "prices"):
        if field not in model:
            fail(path, f"missing '{field}'")
    return {"id": require_id(path, model),
            "match": convert_match(f"{path}.match", model["match"]),
            "prices": convert_prices(f"{path}.prices", model["prices"], price_keys)}


def convert_provider(path: str, provider: object, price_keys: set[str]) -> dict:
    if not isinstance(provider, dict):
        fail(path, "must be an object")
    check_keys(path, provider, PROVIDER_FIELDS, PROVIDER_DROPPED)
    out: dict = {"id": require_id(path, provider)}
    pattern = provider.get("api_pattern")
    if not is_text(pattern) or isinstance(pattern, Number):
        fail(f"{path}.api_pattern", "must be a string")
    try:
        re.compile(pattern)
    except re.error as error:
        fail(f"{path}.api_pattern", f"invalid regular expression: {error}")
    out["api_pattern"] = str(pattern)
    for field in ("provider_match", "model_match"):
        if field in provider:
            out[field] = convert_match(f"{path}.{field}", provider[field])
    if "fallback_model_providers" in provider:
        fallbacks = provider["fallback_model_providers"]
        if not isinstance(fallbacks, list) or not all(is_text(f) and not isinstance(f, Number) for f in fallbacks):
            fail(f"{path}.fallback_model_providers", "must be an array of provider ids")
        out["fallback_model_providers"] = [str(f) for f in fallbacks]
    models = provider.get("models")
    if not isinstance(models, list):
        fail(f"{path}.models", "must be an array")
    out["models"] = [convert_model(f"{path}.models[{i}]", m, price_keys) for i, m in enumerate(models)]
    return out


def convert_units(units: object) -> dict:
    if not isinstance(units, dict) or not units:
        fail("units.json", "must be a non-empty object")
    out = {}
    for usage_key, unit in units.items():
        path = f"units.json.{usage_key}"
        if not isinstance(unit, dict):
            fail(path, "must be an object")
        check_keys(path, unit, ("price_key", "per", "dimensions"))
        price_key = unit.get("price_key")
        if not is_text(price_key) or isinstance(price_key, Number):
            fail(f"{path}.price_key", "must be a string")
        per = convert_integer(f"{path}.per", unit.get("per"))
        if per == 0:
            fail(f"{path}.per", "must be positive")
        dimensions = unit.get("dimensions")
        if not isinstance(dimensions, dict) or "family" not in dimensions:
            fail(f"{path}.dimensions", "must be an object with at least 'family'")
        for name, value in dimensions.items():
            if not is_text(value) or isinstance(value, Number):
                fail(f"{path}.dimensions.{name}", "must be a string")
        out[str(usage_key)] = {"price_key": str(price_key), "per": per,
                               "dimensions": {str(k): str(v) for k, v in dimensions.items()}}
    price_keys = [u["price_key"] for u in out.values()]
    if len(set(price_keys)) != len(price_keys):
        fail("units.json", "two units share a price key")
    return out


def convert(source_dir: pathlib.Path, commit: str | None) -> bytes:
    data, data_raw = load_source(source_dir / "data.json")
    units_source, units_raw = load_source(source_dir / "units.json")
    if commit is None:
        readme = source_dir / "README.md"
        found = COMMIT_IN_README.search(readme.read_text(encoding="utf-8")) if readme.exists() else None
        if not found:
            raise ConversionError(f"{readme}: no 'upstream commit `<sha>`' line; pass --commit")
        commit = found.group(1)
    if not re.fullmatch(r"[0-9a-f]{40}", commit):
        raise ConversionError(f"--commit: '{commit}' is not a 40-digit hex commit id")

    units = convert_units(units_source)
    price_keys = {u["price_key"] for u in units.values()}
    if not isinstance(data, list):
        fail("data.json", "must be an array of providers")
    providers = [convert_provider(f"data.json[{i}]", p, price_keys) for i, p in enumerate(data)]

    ids = [p["id"] for p in providers]
    if len(set(ids)) != len(ids):
        fail("data.json", "duplicate provider id")
    for provider in providers:
        for fallback in provider.get("fallback_model_providers", []):
            if fallback not in ids:
                fail(f"data.json[{provider['id']}].fallback_model_providers", f"unknown provider '{fallback}'")

    header = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "source": SOURCE_NAME,
        "source_url": "https://github.com/pydantic/genai-prices",
        "source_commit": commit,
        "source_sha256": hashlib.sha256(data_raw).hexdigest(),
        "units_sha256": hashlib.sha256(units_raw).hexdigest(),
        "licence": "MIT, Copyright (c) Pydantic Services Inc.",
        "generated_by": "pricing/convert_genai_prices.py",
        "provider_count": len(providers),
        "model_count": sum(len(p["models"]) for p in providers),
    }
    return render(header, units, providers).encode("utf-8")


def compact(value: object) -> str:
    # sort_keys: object key order never carries meaning in this format (arrays carry every ordering that does).
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def render(header: dict, units: dict, providers: list) -> str:
    """One unit, one provider head and one model per line: diffs of a price update stay readable."""
    lines = ["{", f'"header":{compact(header)},', '"units":{']
    unit_lines = [f"{compact(key)}:{compact(units[key])}" for key in sorted(units)]
    lines.append(",\n".join(unit_lines))
    lines.append("},")
    lines.append('"providers":[')
    provider_texts = []
    for provider in providers:
        head = {k: v for k, v in provider.items() if k != "models"}
        head_text = compact(head)[:-1]  # drop the closing brace; "models" goes last, for readability
        separator = "," if head else ""
        models = ",\n".join(compact(m) for m in provider["models"])
        provider_texts.append(f'{head_text}{separator}"models":[\n{models}\n]}}')
    lines.append(",\n".join(provider_texts))
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source_dir", type=pathlib.Path, help="folder with genai-prices data.json and units.json")
    parser.add_argument("--output", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent / "data" / "prices.json",
                        help="where to write the table (default: pricing/data/prices.json)")
    parser.add_argument("--commit", help="upstream commit id (default: read from SOURCE_DIR/README.md)")
    parser.add_argument("--check", type=pathlib.Path, metavar="FILE",
                        help="write nothing; exit 1 unless FILE is byte-identical to the conversion")
    args = parser.parse_args(argv)
    try:
        output = convert(args.source_dir, args.commit)
    except (ConversionError, OSError) as error:
        print(f"convert_genai_prices: {error}", file=sys.stderr)
        return 2
    if args.check is not None:
        try:
            existing = args.check.read_bytes()
        except OSError as error:
            print(f"convert_genai_prices: {error}", file=sys.stderr)
            return 2
        if existing != output:
            print(f"convert_genai_prices: {args.check} differs from the conversion of {args.source_dir}; "
                  f"regenerate it with: python3 pricing/convert_genai_prices.py {args.source_dir}", file=sys.stderr)
            return 1
        print(f"{args.check} is up to date ({len(output)} bytes)")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    temporary = args.output.with_name(args.output.name + ".tmp")
    temporary.write_bytes(output)
    temporary.replace(args.output)  # atomic: a reader never sees half a table
    print(f"wrote {args.output} ({len(output)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
