#!/usr/bin/python3
"""Keeps ingest/openapi.yaml honest.

1. It is structurally valid OpenAPI 3.0: the required keys at every level this file uses,
   responses keyed by status code, path parameters declared, and every $ref resolves.
2. Its paths match the routes registered in ingest/src/routes.cc (the router.Add, AddAsync and
   router.AddPrefix calls): every route is documented, every documented operation is served.

Usage: openapi_test.py [--root SOURCE_DIR]. Needs python3-yaml (scripts/deps.sh). Exit 0 when
all checks pass; otherwise each problem is printed and the exit code is 1.
"""
import argparse
import os
import re
import sys

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
    """(method, path, is_prefix) for every route routes.cc registers."""
    text = open(routes_cc, encoding="utf-8").read()
    calls = re.findall(r"router\.(Add|AddAsync|AddPrefix)\(\s*\"([A-Z]+)\"\s*,\s*([^,]+?)\s*,", text)
    routes = []
    for kind, method, path in calls:
        if path.startswith('"'):
            routes.append((method, path.strip('"'), kind == "AddPrefix"))
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    args = parser.parse_args()
    self_test()
    spec = os.path.join(args.root, "ingest", "openapi.yaml")
    routes_cc = os.path.join(args.root, "ingest", "src", "routes.cc")
    with open(spec, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    check = Checker()
    check_structure(doc, check)
    routes = registered_routes(routes_cc)
    check_routes(doc, routes, check)
    for p in check.problems:
        print("FAIL", p)
    if check.problems:
        return 1
    print(f"ok: {spec} is valid OpenAPI {doc['openapi']} and documents all {len(routes)} routes of {routes_cc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
