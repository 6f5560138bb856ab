#!/usr/bin/python3
"""Keeps ingest/openapi.yaml honest.

1. It is structurally valid OpenAPI 3.0: the required keys at every level this file uses,
   responses keyed by status code, path parameters declared, and every $ref resolves.
2. Its paths match the routes registered in ingest/src/routes.cc, app/risk_routes.cc,
   app/alert_routes.cc and app/results_routes.cc (the router.Add, AddAsync and AddPrefix calls): every route is
   documented, every documented operation is served.
3. With --ewarn BINARY, the answers match it: a node is started on 127.0.0.1 with stations,
   tokens and a liaison; reports raise a risk and an alert; then every documented operation is
   called (successes and errors), and each answer's status must be documented for that
   operation, its Content-Type one of the documented media types, and its JSON body valid
   against the documented schema (types, required fields, enums, bounds, $ref, oneOf). Numbers
   are plain decimals (no "5E-1"), error bodies carry a reason, and every answer carries the
   security headers.

Usage: openapi_test.py [--root SOURCE_DIR] [--ewarn BINARY]. Needs python3-yaml and curl
(scripts/deps.sh). Exit 0 when all checks pass; otherwise each problem is printed and the exit
code is 1.
"""
import argparse
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import yaml

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


class Checker:
    def __init__(self):
        self.problems = []

    def fail(self, where, message):
        self.problems.append(f"{where}: {message}")

    def require(self, obj, keys, where):
        if not isinstance(obj, dict):
            self.fail(where, f"expected a mapping, got {type(obj).__name__}")
            return False
        ok = True
        for k in keys:
            if k not in obj:
                self.fail(where, f"missing required key '{k}'")
                ok = False
        return ok


def resolve(doc, ref):
    """The object a local $ref ('#/a/b') points at, or None."""
    if not ref.startswith("#/"):
        return None
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def walk_refs(node, where, doc, check):
    if isinstance(node, dict):
        if "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or resolve(doc, ref) is None:
                check.fail(where, f"$ref '{ref}' does not resolve")
        for k, v in node.items():
            walk_refs(v, f"{where}/{k}", doc, check)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            walk_refs(v, f"{where}[{i}]", doc, check)


def deref(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"]) or {}
    return node


def check_structure(doc, check):
    if not check.require(doc, ["openapi", "info", "paths"], "document"):
        return
    if not re.fullmatch(r"3\.0\.\d+", str(doc["openapi"])):
        check.fail("openapi", f"expected 3.0.x, got {doc['openapi']!r}")
    check.require(doc["info"], ["title", "version"], "info")
    for i, server in enumerate(doc.get("servers", [])):
        check.require(server, ["url"], f"servers[{i}]")
    schemes = doc.get("components", {}).get("securitySchemes", {})
    for name, scheme in schemes.items():
        where = f"components/securitySchemes/{name}"
        if check.require(scheme, ["type"], where):
            t = scheme["type"]
            if t == "http":
                check.require(scheme, ["scheme"], where)
            elif t == "apiKey":
                check.require(scheme, ["name", "in"], where)
            elif t not in ("oauth2", "openIdConnect"):
                check.fail(where, f"unknown type '{t}'")

    def check_security(reqs, where):
        if not isinstance(reqs, list):
            return check.fail(where, "security must be a list")
        for req in reqs:
            for name in req or {}:
                if name not in schemes:
                    check.fail(where, f"security scheme '{name}' is not in components/securitySchemes")

    if "security" in doc:
        check_security(doc["security"], "security")
    paths = doc["paths"]
    if not isinstance(paths, dict) or not paths:
        return check.fail("paths", "must be a non-empty mapping")
    for path, item in paths.items():
        if not path.startswith("/"):
            check.fail(f"paths/{path}", "must start with '/'")
        if not isinstance(item, dict):
            check.fail(f"paths/{path}", "must be a mapping")
            continue
        templated = set(re.findall(r"\{([^}]+)\}", path))
        for method, op in item.items():
            where = f"paths/{path}/{method}"
            if method in ("parameters", "summary", "description", "servers", "$ref"):
                continue
            if method not in METHODS:
                check.fail(where, "not an HTTP method")
                continue
            if not check.require(op, ["responses"], where):
                continue
            responses = op["responses"]
            if not isinstance(responses, dict) or not responses:
                check.fail(f"{where}/responses", "must be a non-empty mapping")
                continue
            for code, response in responses.items():
                if not re.fullmatch(r"[1-5]([0-9][0-9]|XX)|default", str(code)):
                    check.fail(f"{where}/responses/{code}", "not a status code")
                check.require(deref(doc, response), ["description"], f"{where}/responses/{code}")
            declared = set()
            for j, param in enumerate(item.get("parameters", []) + op.get("parameters", [])):
                param = deref(doc, param)
                pw = f"{where}/parameters[{j}]"
                if check.require(param, ["name", "in"], pw):
                    if param["in"] not in ("query", "header", "path", "cookie"):
                        check.fail(pw, f"bad 'in': {param['in']}")
                    if param["in"] == "path":
                        declared.add(param["name"])
                        if param.get("required") is not True:
                            check.fail(pw, "path parameters must be required: true")
                    if "schema" not in param and "content" not in param:
                        check.fail(pw, "needs a schema or content")
            for missing in templated - declared:
                check.fail(where, f"path parameter '{missing}' is not declared")
            for extra in declared - templated:
                check.fail(where, f"path parameter '{extra}' is not in the path")
            if "requestBody" in op:
                body = deref(doc, op["requestBody"])
                if check.require(body, ["content"], f"{where}/requestBody"):
                    for media, content in body["content"].items():
                        if "schema" not in (content or {}):
                            check.fail(f"{where}/requestBody/{media}", "needs a schema")
            if "security" in op:
                check_security(op["security"], f"{where}/security")
    for section, items in doc.get("components", {}).items():
        if not isinstance(items, dict):
            check.fail(f"components/{section}", "must be a mapping")
    for name, response in doc.get("components", {}).get("responses", {}).items():
        check.require(response, ["description"], f"components/responses/{name}")
    walk_refs(doc, "#", doc, check)


def registered_routes(routes_cc):
    """(method, path, is_prefix) for every route a routes file registers."""
    text = open(routes_cc, encoding="utf-8").read()
    calls = re.findall(r"router\.(Add|AddAsync|AddPrefix)\(\s*\"([A-Z]+)\"\s*,\s*([^,]+?)\s*,", text)
    routes = []
    for kind, method, path in calls:
        named = re.fullmatch(r"std::string\((k\w+)\)", path)
        if path.startswith('"'):
            routes.append((method, path.strip('"'), kind == "AddPrefix"))
        elif named:
            # router.AddPrefix("GET", std::string(kPrefix), ...) with constexpr ... kPrefix = "...";
            constant = re.search(r"constexpr\s+std::string_view\s+" + named.group(1) + r"\s*=\s*\"([^\"]+)\"", text)
            if not constant:
                raise SystemExit(f"{routes_cc}: cannot find the value of {named.group(1)}")
            routes.append((method, constant.group(1), kind == "AddPrefix"))
        elif path == "path":
            # The JSON endpoints are registered in a loop over {"/v1/...", InputKind} pairs.
            loop = re.findall(r"std::pair\{\s*\"(/[^\"]+)\"\s*,\s*InputKind::", text)
            if not loop:
                raise SystemExit(f"{routes_cc}: router.Add(\"{method}\", path, ...) but no path pairs found")
            routes += [(method, p, kind == "AddPrefix") for p in loop]
        else:
            raise SystemExit(f"{routes_cc}: cannot read the path of router.{kind}(\"{method}\", {path}, ...); "
                             "teach tests/openapi_test.py this form")
    if len(calls) != len(re.findall(r"router\.(?:Add|AddAsync|AddPrefix)\(", text)):
        raise SystemExit(f"{routes_cc}: some router.Add/AddPrefix calls were not understood")
    return routes


ROUTE_FILES = [("ingest", "src", "routes.cc"), ("app", "risk_routes.cc"), ("app", "alert_routes.cc"),
               ("app", "results_routes.cc")]


def template_matches_prefix(doc_path, prefix):
    return doc_path.startswith(prefix) and "{" in doc_path[len(prefix) - 1:] or doc_path == prefix


def check_routes(doc, routes, check):
    documented = [(m.upper(), p) for p, item in doc.get("paths", {}).items() if isinstance(item, dict)
                  for m in item if m in METHODS]
    for method, path, prefix in routes:
        if prefix:
            if not any(m == method and template_matches_prefix(p, path) for m, p in documented):
                check.fail("routes.cc", f"{method} {path}* is served but no path under it is documented")
        elif (method, path) not in documented:
            check.fail("routes.cc", f"{method} {path} is served but not documented")
    for method, path in documented:
        served = any(m == method and ((not pre and p == path) or (pre and template_matches_prefix(path, p)))
                     for m, p, pre in routes)
        if not served:
            check.fail(f"openapi.yaml {method} {path}", "is documented but routes.cc does not serve it")


def self_test():
    """The checker itself catches what it is meant to catch."""
    bad = {"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
           "paths": {"/a/{x}": {"get": {"responses": {"200": {"$ref": "#/components/responses/Nope"}}}}}}
    check = Checker()
    check_structure(bad, check)
    joined = "\n".join(check.problems)
    assert "does not resolve" in joined and "'x' is not declared" in joined, joined
    check = Checker()
    check_routes({"paths": {"/b": {"post": {}}}}, [("GET", "/a", False)], check)
    assert len(check.problems) == 2, check.problems
    schema = {"type": "object", "required": ["level", "score"],
              "properties": {"level": {"type": "string", "enum": ["high"]}, "score": {"type": "number"},
                             "tags": {"type": "array", "items": {"type": "integer"}}}}
    problems = []
    validate({}, schema, {"level": "HIGH", "tags": [1, "x"]}, "t", problems)
    assert len(problems) == 3, problems  # the enum, the missing score, the string in tags
    problems = []
    json.loads('{"a":5E-1}', parse_float=lambda t: plain_decimal(t, "t", problems))
    assert problems, "an exponent number passed"
    doc = {"paths": {"/v1/alerts/{id}": {"get": {}}, "/v1/alerts/{id}.cap": {"get": {}}}}
    assert find_operation(doc, "GET", "/v1/alerts/A1.cap")[0] == "/v1/alerts/{id}.cap"
    assert find_operation(doc, "GET", "/v1/alerts/A1")[0] == "/v1/alerts/{id}"



# --- 3. the answers of a running node ---

SECURITY_HEADERS = {
    "content-security-policy": "frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}
DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def validate(doc, schema, value, where, problems):
    """Appends to `problems` where `value` breaks the OpenAPI 3.0 `schema` (the subset this
    file uses: type, required, properties, items, enum, bounds, lengths, oneOf, $ref)."""
    schema = deref(doc, schema)
    if "oneOf" in schema:
        fits = 0
        for option in schema["oneOf"]:
            trial = []
            validate(doc, option, value, where, trial)
            fits += not trial
        if fits != 1:
            problems.append(f"{where}: matches {fits} of the oneOf schemas, not exactly one")
        return
    if value is None and schema.get("nullable"):
        return
    kind = schema.get("type")
    checks = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
              "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}
    if kind in checks and not checks[kind](value):
        problems.append(f"{where}: expected {kind}, got {json.dumps(value)[:80]}")
        return
    if "enum" in schema and value not in schema["enum"]:
        problems.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if kind in ("integer", "number"):
        if "minimum" in schema and value < schema["minimum"]:
            problems.append(f"{where}: {value} < minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            problems.append(f"{where}: {value} > maximum {schema['maximum']}")
    if kind == "string":
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            problems.append(f"{where}: length {len(value)} outside the schema's bounds")
        if schema.get("format") == "date-time" and not DATE_TIME.fullmatch(value):
            problems.append(f"{where}: {value!r} is not an RFC 3339 date-time")
    if kind == "array":
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get("maxItems", len(value)):
            problems.append(f"{where}: {len(value)} items, outside the schema's bounds")
        for i, item in enumerate(value):
            validate(doc, schema.get("items", {}), item, f"{where}[{i}]", problems)
    if kind == "object":
        for name in schema.get("required", []):
            if name not in value:
                problems.append(f"{where}: required field '{name}' is missing")
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                validate(doc, sub, value[name], f"{where}.{name}", problems)


def find_operation(doc, method, path):
    """The documented (template, operation) serving `method path`, the most literal template first."""
    candidates = []
    for template, item in doc["paths"].items():
        op = item.get(method.lower()) if isinstance(item, dict) else None
        if op is None:
            continue
        pattern = "".join("[^/]+" if part.startswith("{") else re.escape(part)
                          for part in re.split(r"(\{[^}]+\})", template))
        if re.fullmatch(pattern, path):
            candidates.append((len(re.sub(r"\{[^}]+\}", "", template)), template, op))
    if not candidates:
        return None, None
    candidates.sort(reverse=True)
    return candidates[0][1], candidates[0][2]


class Answer:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class LiveNode:
    """`ewarn serve` on 127.0.0.1 over a fresh data directory, called through urllib."""

    def __init__(self, ewarn, tmp):
        self.ewarn, self.tmp = ewarn, tmp
        self.data = os.path.join(tmp, "data")
        self.proc = None
        self.base = ""

    def cli(self, *args):
        out = subprocess.run([self.ewarn, *args], capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise SystemExit(f"ewarn {' '.join(args)} failed: {out.stdout}{out.stderr}")
        return out.stdout.strip().splitlines()[-1]

    def start(self):
        csv = os.path.join(self.tmp, "stations.csv")
        with open(csv, "w", encoding="utf-8") as f:
            f.write("station_id,name,region,district,ward,lat,lon,registered_voters\n")
            for i in range(1, 31):
                f.write(f"S{i},Station {i},LAGOS,IKEJA,W{i % 3},{6.6 + 0.002 * i:.3f},3.35,1000\n")
        self.cli("import-stations", "--data", self.data, csv)
        tokens = {"liaison": self.cli("liaison", "add", "--data", self.data, "--name", "ward-police", "--role",
                                      "police", "--area", "LAGOS/IKEJA/W1")}
        for role in ("duty", "operator", "gateway"):
            tokens[role] = self.cli("token", "create", "--data", self.data, "--role", role, "--name", f"api-{role}")
        for i in range(3):
            tokens[f"mon{i}"] = self.cli("token", "create", "--data", self.data, "--role", "monitor",
                                         "--name", f"api-mon{i}")
        self.proc = subprocess.Popen([self.ewarn, "serve", "--data", self.data, "--http", "127.0.0.1:0",
                                      "--tick-ms", "200", "--duration", "150"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(20):
            line = self.proc.stdout.readline()
            m = re.search(r"http://127\.0\.0\.1:[0-9]+", line)
            if m:
                self.base = m.group(0)
                break
        if not self.base:
            raise SystemExit("ewarn serve printed no http address")
        return tokens

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def call(self, method, target, token=None, body=None, content_type="application/json"):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.base + target, data=data, method=method)
        if token:
            req.add_header("Authorization", "Bearer " + token)
        if data is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return Answer(r.status, {k.lower(): v for k, v in r.headers.items()}, r.read())
        except urllib.error.HTTPError as e:
            return Answer(e.code, {k.lower(): v for k, v in e.headers.items()}, e.read())


def plain_decimal(literal, where, problems):
    if "e" in literal or "E" in literal:
        problems.append(f"{where}: number {literal} is not a plain decimal")
    return float(literal)


def check_answer(doc, method, target, answer, problems, documented=True):
    """The answer against the operation the document gives for it (or, for routes that are
    not documented, the Error schema)."""
    path = target.split("?")[0]
    where = f"{method} {target} -> {answer.status}"
    for name, part in SECURITY_HEADERS.items():
        if part not in answer.headers.get(name, ""):
            problems.append(f"{where}: header {name} missing or without {part!r}")
    media = answer.headers.get("content-type", "").split(";")[0].strip()
    body = None
    if media.endswith("json"):
        try:
            body = json.loads(answer.body, parse_float=lambda t: plain_decimal(t, where, problems))
        except ValueError as e:
            return problems.append(f"{where}: body is not JSON ({e}): {answer.body[:120]!r}")
    if answer.status >= 400 and media == "application/json":
        validate(doc, {"$ref": "#/components/schemas/Error"}, body, where, problems)
    if not documented:
        return
    template, op = find_operation(doc, method, path)
    if op is None:
        return problems.append(f"{where}: no documented operation serves it")
    response = op["responses"].get(str(answer.status))
    if response is None:
        return problems.append(f"{where}: status {answer.status} is not documented for {method} {template}")
    content = deref(doc, response).get("content")
    if not content:
        return
    if media not in content:
        return problems.append(f"{where}: Content-Type {media!r} is not one of {sorted(content)}")
    if body is not None:
        validate(doc, content[media].get("schema", {}), body, where, problems)


def eventually(check, seconds=40):
    end = time.time() + seconds
    while time.time() < end:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    return None


def check_live(doc, ewarn, problems):
    """Drives a node through every documented operation and checks each answer."""
    tmp = tempfile.mkdtemp(prefix="openapi-test-")
    node = LiveNode(ewarn, tmp)
    calls = 0
    try:
        t = node.start()

        def call(method, target, token=None, body=None, expect=None, documented=True, **kw):
            nonlocal calls
            calls += 1
            answer = node.call(method, target, token, body, **kw)
            if expect is not None and answer.status != expect:
                problems.append(f"{method} {target}: expected {expect}, got {answer.status}: {answer.body[:200]!r}")
            check_answer(doc, method, target, answer, problems, documented)
            return answer

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        call("GET", "/healthz", expect=200)
        for i in range(3):
            call("POST", "/v1/incidents", t[f"mon{i}"], {"event_id": f"inc-{i}", "occurred_at": now, "station_id": "S4",
                                                        "category": "violence", "severity": 5,
                                                        "description": f"armed group at the gate {i}"}, expect=202)
        call("POST", "/v1/incidents", t["mon0"], b"{", expect=400)
        call("POST", "/v1/incidents", None, {"event_id": "x"}, expect=401)
        call("POST", "/v1/hate-speech", t["mon0"], {"event_id": "hs-1", "occurred_at": now, "station_id": "S5",
                                                   "text": "they must leave", "confidence": 0.5}, expect=202)
        call("POST", "/v1/turnout", t["mon1"], {"event_id": "to-1", "occurred_at": now, "station_id": "S5",
                                               "voters_cast": 10}, expect=202)
        count = {"occurred_at": now, "station_id": "S5", "voters_cast": 11}
        call("POST", "/v1/turnout", t["gateway"], [dict(count, event_id="to-2"), dict(count, event_id="to-3")],
             expect=202)
        call("POST", "/v1/turnout", t["gateway"], [dict(count, event_id="to-4"),
                                                   dict(count, event_id="to-5", station_id="NOWHERE")], expect=207)
        call("POST", "/v1/kit", t["mon2"], [{"event_id": "kit-1", "occurred_at": now, "kit_id": "K1", "station_id": "S5",
                                            "battery_pct": 64.5, "accredited_total": 3, "auth_failures": 0,
                                            "tamper": False}], expect=202)
        call("GET", "/v1/sms/kannel?from=%2B2348000000001&text=hello&token=" + t["gateway"], expect=200)
        call("POST", "/v1/sms/twilio?token=" + t["gateway"], None, b"From=%2B2348000000001&Body=hello",
             content_type="application/x-www-form-urlencoded", expect=200)
        call("GET", "/v1/rejected", t["operator"], expect=200)
        call("GET", "/v1/rejected?from=abc", t["operator"], expect=400)
        call("GET", "/v1/rejected", t["mon0"], expect=403)
        call("GET", "/v1/rejected", None, expect=401)
        call("POST", "/v1/rejected/999999/resubmit", t["operator"], expect=404)
        call("POST", "/v1/ticks", t["operator"], {"time_ms": int(time.time() * 1000)}, expect=200)

        def station_high():
            a = node.call("GET", "/v1/risk/stations/S4", t["duty"])
            return a.status == 200 and json.loads(a.body).get("level") in ("high", "critical")
        if not eventually(station_high):
            problems.append("the three violence reports did not make S4 high risk")
        call("GET", "/v1/risk", t["duty"], expect=200)
        call("GET", "/v1/risk?area=LAGOS", t["duty"], expect=200)
        call("GET", "/v1/risk?area=LAGOS/IKEJA/W2", t["liaison"], expect=403)  # W1's liaison
        call("GET", "/v1/risk?area=LAGOS/IKEJA/W1", t["liaison"], expect=200)
        call("GET", "/v1/risk?area=NOWHERE", t["duty"], expect=404)
        call("GET", "/v1/risk?min_level=bogus", t["duty"], expect=400)
        call("GET", "/v1/risk?format=xml", t["duty"], expect=400)
        call("GET", "/v1/risk?format=geojson", t["duty"], expect=200)
        call("GET", "/v1/risk?format=csv", t["liaison"], expect=200)
        call("GET", "/v1/risk", None, expect=401)
        monitor = call("GET", "/v1/risk", t["mon0"], expect=403)
        message = monitor.json().get("error", "") if monitor.body else ""
        if not all(role in message for role in ("duty", "operator", "liaison")):
            problems.append(f"a monitor reading /v1/risk is not told the roles that may: {message!r}")
        call("GET", "/v1/risk/stations/S4", t["duty"], expect=200)
        call("GET", "/v1/risk/stations/NOPE", t["duty"], expect=404)

        def first_alert():
            a = node.call("GET", "/v1/alerts", t["liaison"])
            alerts = json.loads(a.body).get("alerts", []) if a.status == 200 else []
            return alerts[0]["alert_id"] if alerts else None
        alert_id = eventually(first_alert)
        if not alert_id:
            problems.append("no alert was raised for the ward's liaison")
            alert_id = "A000000000000"
        call("GET", "/v1/alerts", t["liaison"], expect=200)
        call("GET", "/v1/alerts?state=open&level=high", t["duty"], expect=200)
        call("GET", "/v1/alerts?state=bogus", t["duty"], expect=400)
        call("GET", "/v1/alerts?format=geojson", t["duty"], expect=200)
        call("GET", "/v1/alerts?format=csv&state=open", t["liaison"], expect=200)
        call("GET", "/v1/alerts?format=xlsx", t["duty"], expect=400)
        call("GET", "/v1/alerts", t["mon0"], expect=403)
        call("GET", f"/v1/alerts/{alert_id}", t["liaison"], expect=200)
        cap = call("GET", f"/v1/alerts/{alert_id}.cap", t["liaison"], expect=200)
        if os.path.exists("/usr/bin/xmllint"):  # the served CAP against the official OASIS schema
            xsd = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "alerts", "tests", "data",
                               "CAP-v1.2.xsd")
            lint = subprocess.run(["/usr/bin/xmllint", "--noout", "--nonet", "--schema", xsd, "-"], input=cap.body,
                                  capture_output=True, timeout=30)
            if lint.returncode != 0:
                problems.append(f"GET /v1/alerts/{alert_id}.cap is not valid CAP 1.2: {lint.stderr.decode()[:300]}")
            if b"<circle>" not in cap.body or b"<expires>" not in cap.body:
                problems.append(f"GET /v1/alerts/{alert_id}.cap lacks the station's circle or expires: {cap.body!r}")
        call("GET", "/v1/alerts/nope", t["duty"], expect=404)
        call("POST", f"/v1/alerts/{alert_id}/ack", t["liaison"], {"note": "patrol sent"}, expect=202)
        call("POST", f"/v1/alerts/{alert_id}/ack", t["liaison"], {"note": 5}, expect=400)
        call("POST", "/v1/silences", t["duty"], {"area": "LAGOS/IKEJA", "category": "kit",
                                                "until": "2030-01-01T00:00:00Z", "note": "kits replaced"}, expect=202)
        call("POST", "/v1/silences", t["duty"], {"area": "LAGOS"}, expect=400)
        page = call("GET", "/", expect=200, documented=False)  # the duty room (web/README.md)
        call("GET", "/map", expect=200, documented=False)  # 302 to the duty room at / (urllib follows it)
        # The duty room's pages run only their own files: no inline script is allowed.
        policy = page.headers.get("content-security-policy", "")
        scripts = policy.split("script-src")[1].split(";")[0] if "script-src" in policy else policy.split(";")[0]
        if "unsafe-inline" in scripts or "frame-ancestors 'none'" not in policy:
            problems.append(f"GET /: CSP {policy!r} allows inline scripts or framing")
        nowhere = call("GET", "/nowhere", expect=404, documented=False)
        wrong = call("DELETE", "/v1/risk", t["duty"], expect=405, documented=False)
        for answer, reason in ((nowhere, "not_found"), (wrong, "method_not_allowed")):
            if answer.body and answer.json().get("reason") != reason:
                problems.append(f"expected reason {reason}: {answer.body!r}")
        if node.proc.poll() is not None:
            problems.append(f"ewarn serve exited with {node.proc.returncode} during the checks")
    finally:
        node.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    parser.add_argument("--ewarn", help="the ewarn binary: also check a running node's answers")
    args = parser.parse_args()
    self_test()
    spec = os.path.join(args.root, "ingest", "openapi.yaml")
    with open(spec, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    check = Checker()
    check_structure(doc, check)
    routes = []
    for parts in ROUTE_FILES:
        routes += registered_routes(os.path.join(args.root, *parts))
    check_routes(doc, routes, check)
    calls = check_live(doc, args.ewarn, check.problems) if args.ewarn and not check.problems else 0
    for p in check.problems:
        print("FAIL", p)
    if check.problems:
        return 1
    print(f"ok: {spec} is valid OpenAPI {doc['openapi']} and documents all {len(routes)} routes" +
          (f"; {calls} answers of a running node match it" if calls else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
