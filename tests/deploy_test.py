#!/usr/bin/env python3
"""Validates deploy/ without a Kafka cluster or a container engine.

- every YAML file parses; Kubernetes objects are well formed and their ports agree;
- promtool checks the Prometheus config and alert rules;
- docker-compose validates the compose file (no engine needed for `config`);
- every ewarn command line in compose and Kubernetes is accepted by the ewarn binary;
- every ewarn_* metric the dashboard and the alert rules query is exported by a live
  `ewarn serve --metrics` (so a renamed metric cannot silently blank a panel).
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")
EWARN = None


def deploy_files(*suffixes):
    for dirpath, _, names in os.walk(DEPLOY):
        for n in sorted(names):
            if n.endswith(suffixes):
                yield os.path.join(dirpath, n)


def ewarn_command_lines():
    """(file, argv) for every ewarn invocation in compose and Kubernetes files."""
    compose = yaml.safe_load(open(os.path.join(DEPLOY, "compose", "docker-compose.yml")))
    for name, svc in compose["services"].items():
        if svc.get("image", "").startswith("ewarn"):
            yield "compose:" + name, [str(a) for a in svc["command"]]
    for doc in yaml.safe_load_all(open(os.path.join(DEPLOY, "kubernetes", "ewarn.yaml"))):
        if doc and doc["kind"] == "StatefulSet":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                yield "kubernetes:" + c["name"], [str(a) for a in c["args"]]


class DeployTest(unittest.TestCase):
    def test_yaml_parses(self):
        files = list(deploy_files(".yml", ".yaml"))
        self.assertGreaterEqual(len(files), 5)
        for f in files:
            with self.subTest(file=f):
                docs = [d for d in yaml.safe_load_all(open(f)) if d is not None]
                self.assertTrue(docs, f + " is empty")

    def test_kubernetes_objects_are_well_formed(self):
        docs = [d for d in yaml.safe_load_all(open(os.path.join(DEPLOY, "kubernetes", "ewarn.yaml"))) if d]
        kinds = {d["kind"] for d in docs}
        self.assertEqual(kinds, {"Namespace", "Service", "StatefulSet"})
        for d in docs:
            self.assertIn("apiVersion", d)
            self.assertIn("name", d["metadata"])
        sts = next(d for d in docs if d["kind"] == "StatefulSet")
        svc = next(d for d in docs if d["kind"] == "Service")
        pod = sts["spec"]["template"]
        self.assertEqual(sts["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"])
        self.assertEqual(svc["spec"]["selector"], pod["metadata"]["labels"])
        port_names = {p["name"] for c in pod["spec"]["containers"] for p in c["ports"]}
        for p in svc["spec"]["ports"]:
            self.assertIn(p["targetPort"], port_names)
        mounts = {m["name"] for c in pod["spec"]["containers"] for m in c["volumeMounts"]}
        claims = {v["metadata"]["name"] for v in sts["spec"]["volumeClaimTemplates"]}
        self.assertEqual(mounts, claims)

    def test_promtool_accepts_config_and_rules(self):
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool missing: scripts/deps.sh installs 'prometheus'")
        rules = os.path.join(DEPLOY, "prometheus", "ewarn-rules.yml")
        out = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # The config names the rules at their in-container path; check it against the local copy.
        with tempfile.TemporaryDirectory() as tmp:
            cfg = yaml.safe_load(open(os.path.join(DEPLOY, "prometheus", "prometheus.yml")))
            cfg["rule_files"] = [rules]
            path = os.path.join(tmp, "prometheus.yml")
            yaml.safe_dump(cfg, open(path, "w"))
            out = subprocess.run([promtool, "check", "config", path], capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_compose_file_is_valid(self):
        dc = shutil.which("docker-compose")
        self.assertIsNotNone(dc, "docker-compose missing: scripts/deps.sh installs it")
        out = subprocess.run([dc, "-f", os.path.join(DEPLOY, "compose", "docker-compose.yml"), "config", "-q"],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_ewarn_accepts_every_deployed_command_line(self):
        lines = list(ewarn_command_lines())
        self.assertGreaterEqual(len(lines), 2)
        for where, argv in lines:
            with self.subTest(where=where):
                out = subprocess.run([EWARN] + argv + ["--help"], capture_output=True, text=True)
                self.assertEqual(out.returncode, 0, where + ": " + out.stdout + out.stderr)

    def test_dashboard_and_rules_query_only_exported_metrics(self):
        dash = json.load(open(os.path.join(DEPLOY, "grafana", "ewarn-dashboard.json")))
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        rules = yaml.safe_load(open(os.path.join(DEPLOY, "prometheus", "ewarn-rules.yml")))
        exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
        wanted = {m for e in exprs for m in re.findall(r"\bewarn_[a-z_]+", e)}
        self.assertTrue(wanted)

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        with tempfile.TemporaryDirectory() as data:
            proc = subprocess.Popen([EWARN, "serve", "--data", data, "--partitions", "2", "--tick-ms", "100",
                                     "--duration", "20", "--metrics", "127.0.0.1:%d" % port],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            try:
                exported, deadline = set(), time.time() + 15
                while time.time() < deadline:
                    try:
                        text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read().decode()
                        exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
                                    if line.startswith("ewarn_")}
                        if "ewarn_processors_consumer_lag" in exported:
                            break
                    except OSError:
                        pass
                    time.sleep(0.2)
            finally:
                proc.terminate()
                proc.wait(timeout=20)
        for m in sorted(wanted):
            with self.subTest(metric=m):
                self.assertIn(m, exported, "dashboard/rules query %s, which ewarn does not export" % m)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ewarn", required=True)
    args, rest = parser.parse_known_args()
    EWARN = args.ewarn
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
