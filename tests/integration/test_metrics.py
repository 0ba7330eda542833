"""GET /metrics (admin): the old app's JSON with counters that move, database figures and writer health; Prometheus
text exposition 0.0.4 (`?format=prometheus` or `Accept: text/plain`) checked by a strict parser written here."""
import math
import re
import time

from cg_server import ISO_Z_RE

METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ExpositionError(AssertionError):
    pass


def parse_value(text, where):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    if not re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", text):
        raise ExpositionError(f"{where}: '{text}' is not a sample value")
    return float(text)


def parse_labels(text, where):
    """`a="x",b="y\\"z"` -> {"a": "x", "b": 'y"z'}; escapes \\\\, \\" and \\n only; no duplicate names."""
    labels = {}
    i = 0
    while i < len(text):
        m = LABEL_NAME.match(text, i)
        if not m:
            raise ExpositionError(f"{where}: bad label name at {text[i:]!r}")
        name = m.group(0)
        i = m.end()
        if text[i:i + 2] != '="':
            raise ExpositionError(f"{where}: expected =\" after label {name}")
        i += 2
        value = []
        while True:
            if i >= len(text):
                raise ExpositionError(f"{where}: unterminated value of label {name}")
            c = text[i]
            if c == "\\":
                nxt = text[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    raise ExpositionError(f"{where}: bad escape \\{nxt} in label {name}")
                value.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ExpositionError(f"{where}: raw newline in label {name}")
            else:
                value.append(c)
                i += 1
        if name in labels:
            raise ExpositionError(f"{where}: label {name} given twice")
        labels[name] = "".join(value)
        if i < len(text):
            if text[i] != ",":
                raise ExpositionError(f"{where}: expected , after label {name}")
            i += 1
    return labels


def split_sample(line, where):
    m = METRIC_NAME.match(line)
    if not m:
        raise ExpositionError(f"{where}: bad metric name")
    name, rest = m.group(0), line[m.end():]
    labels = {}
    if rest.startswith("{"):
        # The label block ends at the first } outside a quoted value.
        i, quoted = 1, False
        while i < len(rest):
            c = rest[i]
            if quoted and c == "\\":
                i += 2
                continue
            if c == '"':
                quoted = not quoted
            elif c == "}" and not quoted:
                break
            i += 1
        else:
            raise ExpositionError(f"{where}: unterminated label set")
        labels = parse_labels(rest[1:i], where)
        rest = rest[i + 1:]
    if not rest.startswith(" "):
        raise ExpositionError(f"{where}: expected a space before the value")
    parts = rest[1:].split(" ")
    if len(parts) not in (1, 2) or parts[0] == "":
        raise ExpositionError(f"{where}: expected `value [timestamp]`, got {rest!r}")
    value = parse_value(parts[0], where)
    if len(parts) == 2 and not re.fullmatch(r"-?\d+", parts[1]):
        raise ExpositionError(f"{where}: bad timestamp {parts[1]!r}")
    return name, labels, value


def family_of(sample_name, families):
    if sample_name in families:
        return sample_name
    for suffix in ("_bucket", "_sum", "_count"):
        base = sample_name[: -len(suffix)] if sample_name.endswith(suffix) else None
        if base and families.get(base, {}).get("type") in ("histogram", "summary"):
            return base
    return None


def parse_exposition(text):
    """Strictly parses Prometheus text format 0.0.4. Returns {family: {"type", "help", "samples": [(name, labels,
    value)]}}. Raises ExpositionError on anything a careful reading of the format does not allow."""
    if not text.endswith("\n"):
        raise ExpositionError("the exposition must end with a newline")
    families = {}
    finished = set()  # families whose samples are over: they may not appear again
    current = None
    for number, line in enumerate(text[:-1].split("\n"), 1):
        where = f"line {number}"
        if line == "":
            raise ExpositionError(f"{where}: empty line")
        if line.startswith("#"):
            m = re.fullmatch(r"# (HELP|TYPE) (\S+) ?(.*)", line)
            if not m:
                continue  # a plain comment
            kind, name, rest = m.groups()
            if not METRIC_NAME.fullmatch(name):
                raise ExpositionError(f"{where}: bad metric name {name!r}")
            fam = families.setdefault(name, {"type": None, "help": None, "samples": []})
            if name in finished or fam["samples"]:
                raise ExpositionError(f"{where}: {kind} for {name} after its samples")
            if kind == "HELP":
                if fam["help"] is not None:
                    raise ExpositionError(f"{where}: second HELP for {name}")
                if re.search(r"\\[^\\n]", rest):
                    raise ExpositionError(f"{where}: bad escape in HELP")
                fam["help"] = rest
            else:
                if fam["type"] is not None:
                    raise ExpositionError(f"{where}: second TYPE for {name}")
                if rest not in TYPES:
                    raise ExpositionError(f"{where}: unknown type {rest!r}")
                fam["type"] = rest
            if current is not None and current != name:
                finished.add(current)
            current = name
            continue
        name, labels, value = split_sample(line, where)
        fam_name = family_of(name, families)
        if fam_name is None or families[fam_name]["type"] is None:
            raise ExpositionError(f"{where}: sample {name} has no TYPE line before it")
        if fam_name in finished:
            raise ExpositionError(f"{where}: samples of {fam_name} are not contiguous")
        if current != fam_name:
            if current is not None:
                finished.add(current)
            current = fam_name
        fam = families[fam_name]
        if fam["type"] == "counter" and not value >= 0:
            raise ExpositionError(f"{where}: counter {name} is {value}")
        if fam["type"] == "histogram" and name == fam_name:
            raise ExpositionError(f"{where}: histogram {name} sample without _bucket/_sum/_count")
        if "le" in labels and not name.endswith("_bucket"):
            raise ExpositionError(f"{where}: le label outside a _bucket sample")
        fam["samples"].append((name, labels, value))
    for fam_name, fam in families.items():
        if fam["type"] == "histogram":
            check_histogram(fam_name, fam["samples"])
    # No two samples with the same name and labels.
    seen = set()
    for fam in families.values():
        for name, labels, _ in fam["samples"]:
            key = (name, tuple(sorted(labels.items())))
            if key in seen:
                raise ExpositionError(f"duplicate sample {key}")
            seen.add(key)
    return families


def check_histogram(name, samples):
    series = {}
    for sample_name, labels, value in samples:
        key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        s = series.setdefault(key, {"buckets": [], "sum": None, "count": None})
        if sample_name == name + "_bucket":
            if "le" not in labels:
                raise ExpositionError(f"{name}{dict(key)}: bucket without le")
            s["buckets"].append((parse_value(labels["le"], name), value))
        elif sample_name == name + "_sum":
            s["sum"] = value
        elif sample_name == name + "_count":
            s["count"] = value
    for key, s in series.items():
        where = f"{name}{dict(key)}"
        bounds = [b for b, _ in s["buckets"]]
        if not bounds or bounds[-1] != math.inf:
            raise ExpositionError(f"{where}: no +Inf bucket (or not last)")
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ExpositionError(f"{where}: le values not strictly increasing: {bounds}")
        counts = [c for _, c in s["buckets"]]
        if any(b < a for a, b in zip(counts, counts[1:])):
            raise ExpositionError(f"{where}: bucket counts not cumulative: {counts}")
        if s["count"] is None or s["sum"] is None:
            raise ExpositionError(f"{where}: _count or _sum missing")
        if counts[-1] != s["count"]:
            raise ExpositionError(f"{where}: +Inf bucket {counts[-1]} != _count {s['count']}")


def value_of(families, family, name=None, **labels):
    for sample_name, sample_labels, value in families[family]["samples"]:
        if sample_name == (name or family) and all(sample_labels.get(k) == v for k, v in labels.items()):
            return value
    return None


def test_the_parser_itself_is_strict():
    good = ('# HELP a_total things\n# TYPE a_total counter\na_total{x="1"} 3\n'
            '# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n')
    parse_exposition(good)
    bad = [
        good[:-1],                                                       # no final newline
        "a 1\n",                                                         # no TYPE
        "# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n",                      # duplicate label
        "# TYPE a counter\na{x=\"\\t\"} 1\n",                            # bad escape
        "# TYPE a counter\na{1x=\"1\"} 1\n",                             # bad label name
        "# TYPE a counter\na -1\n",                                      # negative counter
        "# TYPE a counter\na one\n",                                     # bad value
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na 2\n",               # not contiguous
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",            # no +Inf
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",  # not cumulative
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",         # +Inf != count
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n",                  # no _sum
        "# TYPE a gauge\n\na 1\n",                                       # empty line
    ]
    for text in bad:
        try:
            parse_exposition(text)
        except ExpositionError:
            continue
        raise AssertionError(f"accepted: {text!r}")


# ---- JSON ----------------------------------------------------------------------------------------------------

def counters(srv):
    status, _, body = srv.admin("GET", "/metrics")
    assert status == 200, body
    return body


def test_metrics_needs_the_admin_key(server):
    assert server.request("GET", "/metrics")[0] == 401
    assert server.request("GET", "/metrics", headers={"X-API-Key": "wrong"})[0] == 401


def test_json_has_the_seed_shape(server):
    body = counters(server)
    assert isinstance(body["version"], str)
    assert body["env"] == "development"
    assert set(body["ingest"]) >= {"rpm", "burst", "auth_enabled"}
    assert body["ingest"]["auth_enabled"] is True
    for name in ("ingest_success", "ingest_duplicate", "ingest_bad_auth", "rate_limit_hits",
                 "ingest_validation_error"):
        assert isinstance(body["counters"][name], int), name
    assert set(body["db"]) >= {"usage_rows", "active_tokens", "last_usage_at"}
    assert body["db"]["last_usage_at"] is None
    assert body["pricing"]["models"] > 0 and body["pricing"]["source"]
    assert body["writer"]["running"] is True and body["writer"]["queue_depth"] == 0


def test_counters_move_with_ingests(server):
    token = server.create_token("metrics")["token"]
    before = counters(server)
    conn = server.connection()
    ev = {"tracking_token": token, "model": "gpt-4o-mini", "prompt_tokens": 10, "completion_tokens": 5}
    for i in range(3):
        assert server.ingest({**ev, "event_id": f"m-{i}"}, conn=conn)[0] == 201
    assert server.ingest({**ev, "event_id": "m-0"}, conn=conn)[0] == 200               # duplicate
    assert server.ingest(ev, headers={"X-Ingest-Key": "wrong"}, conn=conn)[0] == 401    # bad auth
    assert server.ingest({**ev, "prompt_tokens": -1}, conn=conn)[0] == 400              # invalid
    assert server.ingest({**ev, "tracking_token": "nope"}, conn=conn)[0] == 404         # unknown token
    after = counters(server)
    delta = {k: after["counters"][k] - before["counters"][k]
             for k in ("ingest_success", "ingest_duplicate", "ingest_bad_auth", "ingest_validation_error")}
    assert delta == {"ingest_success": 3, "ingest_duplicate": 1, "ingest_bad_auth": 1, "ingest_validation_error": 2}
    assert after["counters"]["ingest_rejected"] == {"400": 1, "401": 1, "404": 1}
    assert after["db"]["usage_rows"] == 3
    assert after["db"]["active_tokens"] == 1
    assert ISO_Z_RE.match(after["db"]["last_usage_at"])
    assert after["writer"]["rows_committed"] == 4  # the duplicate went through a batch too


def test_json_unless_asked_otherwise(server):
    status, headers, body = server.admin("GET", "/metrics", headers={"Accept": "application/json"})
    assert status == 200 and headers["content-type"].startswith("application/json")
    status, headers, body = server.admin("GET", "/metrics?format=json", headers={"Accept": "text/plain"})
    assert status == 200 and isinstance(body, dict)
    status, _, body = server.admin("GET", "/metrics?format=xml")
    assert status == 400 and body["field"] == "format"


# ---- Prometheus ----------------------------------------------------------------------------------------------

def scrape(srv, how="query"):
    if how == "query":
        status, headers, text = srv.admin("GET", "/metrics?format=prometheus")
    else:
        # What Prometheus itself sends.
        status, headers, text = srv.request("GET", "/metrics", headers={
            "Authorization": f"Bearer {srv.api_key}",
            "Accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.1"})
    assert status == 200, text
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert isinstance(text, str)
    return parse_exposition(text), text


def test_prometheus_exposition_parses_strictly_and_carries_every_family(server):
    token = server.create_token("prom")["token"]
    conn = server.connection()
    ev = {"tracking_token": token, "model": "gpt-4o-mini", "prompt_tokens": 10, "completion_tokens": 5}
    for i in range(5):
        assert server.ingest({**ev, "event_id": f"p-{i}"}, conn=conn)[0] == 201
    assert server.ingest({**ev, "event_id": "p-0"}, conn=conn)[0] == 200
    assert server.ingest(ev, headers={"X-Ingest-Key": "bad"}, conn=conn)[0] == 401
    # Raw paths with ids must not become labels: the route pattern does.
    for i in (12345, 67890):
        server.admin("PATCH", f"/ingest/tokens/{i}/active", {"active": True}, conn=conn)
    server.request("GET", "/no/such/path/31337", conn=conn)

    families, text = scrape(server)
    for family, kind in [("cost_guardian_http_requests_total", "counter"),
                         ("cost_guardian_http_request_duration_seconds", "histogram"),
                         ("cost_guardian_ingest_events_total", "counter"),
                         ("cost_guardian_ingest_refused_total", "counter"),
                         ("cost_guardian_writer_queue_depth", "gauge"),
                         ("cost_guardian_writer_batch_rows", "histogram"),
                         ("cost_guardian_writer_commit_duration_seconds", "histogram"),
                         ("cost_guardian_rate_limit_hits_total", "counter"),
                         ("cost_guardian_pricing_info", "gauge"),
                         ("cost_guardian_usage_rows", "gauge"),
                         ("cost_guardian_build_info", "gauge")]:
        assert families[family]["type"] == kind, family
        assert families[family]["help"], family

    assert value_of(families, "cost_guardian_http_requests_total", method="POST", route="/ingest", status="201") == 5
    assert value_of(families, "cost_guardian_http_requests_total", method="POST", route="/ingest", status="200") == 1
    assert value_of(families, "cost_guardian_http_requests_total", method="PATCH",
                    route="/ingest/tokens/<id>/active", status="404") == 2
    assert value_of(families, "cost_guardian_http_requests_total", route="(unmatched)", status="404") >= 1
    assert "12345" not in text and "31337" not in text
    assert value_of(families, "cost_guardian_http_request_duration_seconds",
                    "cost_guardian_http_request_duration_seconds_count", method="POST", route="/ingest") == 7
    assert value_of(families, "cost_guardian_ingest_events_total", result="created") == 5
    assert value_of(families, "cost_guardian_ingest_events_total", result="duplicate") == 1
    assert value_of(families, "cost_guardian_ingest_refused_total", status="401") == 1
    rows = value_of(families, "cost_guardian_writer_batch_rows", "cost_guardian_writer_batch_rows_sum")
    assert rows == 6  # 5 created + 1 duplicate went through the writer
    assert value_of(families, "cost_guardian_writer_commit_duration_seconds",
                    "cost_guardian_writer_commit_duration_seconds_count") >= 1
    assert value_of(families, "cost_guardian_writer_queue_depth") == 0
    assert value_of(families, "cost_guardian_usage_rows") == 5
    pricing = families["cost_guardian_pricing_info"]["samples"][0][1]
    assert pricing["source"]

    # Prometheus's own Accept header gets the same format.
    families2, _ = scrape(server, how="accept")
    assert "cost_guardian_http_requests_total" in families2


def test_scrapes_are_consistent_under_load(server):
    """Histograms read while requests are being counted still satisfy +Inf == _count and monotonic buckets."""
    import threading
    stop = threading.Event()

    def hammer():
        conn = server.connection()
        while not stop.is_set():
            server.request("GET", "/ping", conn=conn)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(40):  # well inside the admin burst (120)
            scrape(server)
    finally:
        stop.set()
        for t in threads:
            t.join()
