"""`cost-guardian price`: JSON lines in, exactly one JSON line out per input line, in order, exit 0."""
import json
import os
import subprocess

BINARY = os.environ["CG_BINARY"]


def price(lines, env=None):
    text = "".join(line + "\n" for line in lines)
    proc = subprocess.run([BINARY, "price", "--env-file", os.devnull], input=text, capture_output=True, text=True,
                          timeout=60, env={"PATH": "/usr/bin:/bin", **{k: v for k, v in os.environ.items()
                                                                       if k.endswith("SAN_OPTIONS")}, **(env or {})})
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(lines)
    return out


def req(id_, model, usage, provider=None, ts="2025-06-01T12:00:00Z", **extra):
    return json.dumps({"id": id_, "provider": provider, "model": model, "timestamp": ts, "usage": usage, **extra})


def test_prices_in_input_order_with_resolved_ids():
    out = price([
        req("plain", "gpt-4o-mini", {"input_tokens": 1000, "output_tokens": 500}, "openai"),
        # Bedrock profile id through an alias, padded and in another case: AWS regional Sonnet 4.5 is 3.30 / 16.50
        # per Mtok and cache reads 0.33: 800 x 3.30 + 200 x 0.33 = 2706 µUSD in, 500 x 16.50 = 8250 µUSD out.
        req("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            {"input_tokens": 1000, "output_tokens": 500, "cache_read_tokens": 200}, "  Bedrock ",
            ts="2025-11-01T00:00:00Z"),
        req("unknown", "no-such-model", {"input_tokens": 5}),
        req("by-url", "gpt-4o-mini", {"input_tokens": 1000000}, provider_api_url="https://api.openai.com/v1"),
    ])
    assert [o["id"] for o in out] == ["plain", "bedrock", "unknown", "by-url"]
    assert out[0]["total_usd"] == 0.00045 and out[0]["input_usd"] == 0.00015 and out[0]["output_usd"] == 0.0003
    assert out[0]["provider_id"] == "openai" and out[0]["model_id"] == "gpt-4o-mini"
    assert abs(out[1]["input_usd"] - 0.002706) < 1e-15 and abs(out[1]["output_usd"] - 0.00825) < 1e-15
    assert out[1]["provider_id"] == "aws"
    assert out[2]["total_usd"] is None and out[2]["model_id"] is None and "error" not in out[2]
    assert out[3]["provider_id"] == "openai" and out[3]["total_usd"] == 0.15
    assert all("error" not in o for o in out)


def test_errors_only_for_contradictory_usage_or_bad_lines():
    out = price([
        req("contradictory", "claude-sonnet-4-5", {"input_tokens": 10, "cache_read_tokens": 20}, "anthropic"),
        "this is not json",
        req("fine", "claude-sonnet-4-5", {"input_tokens": 30, "cache_read_tokens": 20}, "anthropic"),
    ])
    assert "error" in out[0] and out[0]["total_usd"] is None and out[0]["id"] == "contradictory"
    assert "error" in out[1] and out[1]["id"] is None
    assert "error" not in out[2] and out[2]["total_usd"] > 0


def test_pricing_file_is_used(tmp_path):
    from test_pricing_file import custom_table
    out = price([req("acme", "acme-1", {"input_tokens": 1000, "output_tokens": 100})],
                env={"PRICING_FILE": str(custom_table(tmp_path))})
    assert out[0]["total_usd"] == 0.0035 and out[0]["provider_id"] == "acme"


def test_upstream_data_json_prices_like_the_embedded_table():
    """PRICING_FILE may point straight at genai-prices' data.json: same answers as the table built from it."""
    upstream = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "reference", "genai-prices",
                            "data.json")
    assert os.path.exists(upstream), upstream
    models = ["gpt-4o-mini", "gpt-4.1", "o3", "claude-sonnet-4-5", "claude-opus-4-6", "gemini-2.5-pro",
              "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "deepseek-chat", "grok-4", "mistral-large-latest",
              "openai/gpt-4o", "no-such-model"]
    providers = [None, "openai", "anthropic", "google", "bedrock", "azure", "openrouter", "deepseek", "xai"]
    lines = []
    for i, model in enumerate(models):
        for j, provider in enumerate(providers):
            usage = {"input_tokens": 1000 * (i + 1) + 250_000 * (j % 2), "output_tokens": 300 * (j + 1),
                     "cache_read_tokens": 100 * j}
            lines.append(req(f"{i}-{j}", model, usage, provider, ts=f"2026-0{1 + j % 9}-15T0{i % 10}:30:00Z"))
    embedded = price(lines)
    raw = price(lines, env={"PRICING_FILE": upstream})
    assert raw == embedded
    assert sum(1 for o in embedded if o["total_usd"] is not None) >= 25  # the sample really prices things
