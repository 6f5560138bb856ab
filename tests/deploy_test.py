#!/usr/bin/env python3
"""Validates deploy/ without a Kafka cluster or a container engine.

- every YAML file parses; promtool checks the Prometheus config and alert rules;
- `docker-compose config` (Debian's docker-compose) accepts the Compose file, with the key
  files present, and refuses a broken one (so the check is not vacuous);
- the Compose stack as Compose resolves it: three KRaft brokers (combined roles, replication 3,
  min.insync.replicas 2, no automatic topics), the one-shot topics job, two ewarn nodes with
  --http published, restart policies, /healthz healthchecks, the keys as Compose secrets;
- the Kubernetes manifests (kustomization.yaml and what it lists): StatefulSet with a state
  volume per pod, probes on /healthz, requests and limits, the key Secret mounted as files,
  Services, PodDisruptionBudget, anti-affinity, the topics Job;
- flag by flag: every flag of every ewarn command line in Compose and Kubernetes is one that
  `ewarn <command> --help` lists, and the whole line is accepted by the binary;
- every probe path answers 200 on a live `ewarn serve --http`, and every ewarn_* metric the
  dashboard and the alert rules query is exported by a live `ewarn serve --metrics`;
- the runtime image installs every shared library the binary links: each library `ldd`
  resolves belongs (`dpkg -S`) to a package named on the Dockerfile's runtime apt-get line.
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
COMPOSE_FILE = os.path.join(DEPLOY, "compose", "docker-compose.yml")
KUBERNETES = os.path.join(DEPLOY, "kubernetes")
DOCKERFILE = os.path.join(DEPLOY, "Dockerfile")
EWARN = None


def read_text(path):
    with open(path) as f:
        return f.read()


def load_yaml(path):
    return yaml.safe_load(read_text(path))


def load_yaml_all(path):
    return [d for d in yaml.safe_load_all(read_text(path)) if d is not None]


def deploy_files(*suffixes):
    for dirpath, _, names in os.walk(DEPLOY):
        for n in sorted(names):
            if n.endswith(suffixes):
                yield os.path.join(dirpath, n)


# --- Compose -----------------------------------------------------------------------------------

def make_key_files(directory):
    """The two key files the Compose secrets name, made as deploy/README.md says."""
    for name in ("ewarn_secret", "ewarn_webhook_key"):
        with open(os.path.join(directory, name), "w") as f:
            f.write(os.urandom(32).hex() + "\n")


def docker_compose(args, secrets_dir, extra_files=()):
    dc = shutil.which("docker-compose")
    if dc is None:
        raise AssertionError("docker-compose missing: scripts/deps.sh installs Debian's docker-compose")
    files = []
    for f in (COMPOSE_FILE,) + tuple(extra_files):
        files += ["-f", f]
    env = dict(os.environ, EWARN_SECRETS_DIR=secrets_dir)
    return subprocess.run([dc] + files + args, capture_output=True, text=True, env=env)


_compose_cache = {}


def compose_config():
    """The Compose file as docker-compose resolves it (anchors merged, paths absolute)."""
    if "config" not in _compose_cache:
        with tempfile.TemporaryDirectory() as secrets:
            make_key_files(secrets)
            out = docker_compose(["config"], secrets)
            if out.returncode != 0:
                raise AssertionError("docker-compose config refused the file: " + out.stderr)
            config = yaml.safe_load(out.stdout)
            # Compose names the key files by path; they existed while it resolved them.
            config["_secrets_dir"] = secrets
        _compose_cache["config"] = config
    return _compose_cache["config"]


def volume_mounts(service):
    """(type, source, target) of a service's volumes; docker-compose 1.x prints the short
    syntax (SOURCE:TARGET[:MODE]), later versions the long one."""
    mounts = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            mounts.append((v["type"], v.get("source"), v["target"]))
        else:
            source, target = v.split(":")[:2]
            mounts.append(("bind" if source.startswith(("/", ".")) else "volume", source, target))
    return mounts


def is_ewarn_image(image):
    return image.split(":")[0] == "ewarn"


def kafka_services(config):
    return {n: s for n, s in config["services"].items() if s.get("image", "").startswith("apache/kafka")}


def ewarn_services(config):
    return {n: s for n, s in config["services"].items() if is_ewarn_image(s.get("image", ""))}


# --- Kubernetes --------------------------------------------------------------------------------

def kustomization():
    return load_yaml(os.path.join(KUBERNETES, "kustomization.yaml"))


def kubernetes_objects():
    """Every object the kustomization applies, from the files it lists."""
    objects = []
    for resource in kustomization()["resources"]:
        objects += load_yaml_all(os.path.join(KUBERNETES, resource))
    return objects


def objects_of(kind):
    return [o for o in kubernetes_objects() if o["kind"] == kind]


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


# --- ewarn command lines -----------------------------------------------------------------------

def ewarn_command_lines():
    """(where, argv) for every ewarn invocation in Compose and Kubernetes."""
    for name, svc in sorted(ewarn_services(compose_config()).items()):
        yield "compose:" + name, [str(a) for a in svc["command"]]
    for obj in kubernetes_objects():
        if obj["kind"] not in ("StatefulSet", "Deployment", "Job", "DaemonSet"):
            continue
        spec = pod_spec(obj)
        for c in spec.get("initContainers", []) + spec["containers"]:
            if is_ewarn_image(c["image"]):
                yield "kubernetes:%s/%s" % (obj["metadata"]["name"], c["name"]), [str(a) for a in c["args"]]


def command_words(argv):
    """The subcommand: the words before the first flag (["serve"], ["topics", "create"])."""
    words = []
    for a in argv:
        if a.startswith("-"):
            break
        words.append(a)
    return words


def flag_value(argv, flag):
    i = argv.index(flag)
    return argv[i + 1]


_help_cache = {}


def known_flags(words):
    """The flags `ewarn WORDS --help` lists; AssertionError when the command is unknown."""
    key = tuple(words)
    if key not in _help_cache:
        out = subprocess.run([EWARN] + words + ["--help"], capture_output=True, text=True)
        if out.returncode != 0:
            raise AssertionError("`ewarn %s --help` failed (exit %d): is '%s' a command of this binary?\n%s"
                                 % (" ".join(words), out.returncode, " ".join(words), out.stdout + out.stderr))
        _help_cache[key] = set(re.findall(r"^\s+(--[a-z0-9][a-z0-9-]*)", out.stdout, re.MULTILINE))
    return _help_cache[key]


def unknown_flags(argv):
    """Flags in argv that `ewarn <command> --help` does not list, in order."""
    known = known_flags(command_words(argv))
    return [a.split("=")[0] for a in argv if a.startswith("--") and a.split("=")[0] not in known]


# --- Dockerfile and ldd ------------------------------------------------------------------------

def runtime_packages(dockerfile_text):
    """Packages of the last stage's `apt-get install` (the runtime image), as written."""
    text = dockerfile_text.replace("\\\n", " ")
    stages = re.split(r"^FROM\s", text, flags=re.MULTILINE)
    packages = []
    for line in stages[-1].splitlines():
        if not line.startswith("RUN") or "apt-get install" not in line:
            continue
        for command in line.split("&&"):
            words = command.split()
            if "install" in words and "apt-get" in words:
                packages += [w for w in words[words.index("install") + 1:] if not w.startswith("-")]
    return packages


def linked_libraries(binary):
    """(soname, path) of every shared library ldd resolves, the dynamic loader included."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if out.returncode != 0:
        raise AssertionError("ldd %s failed: %s" % (binary, out.stderr))
    libraries = []
    for line in out.stdout.splitlines():
        line = line.strip()
        if "=> not found" in line:
            raise AssertionError("ldd: %s" % line)
        m = re.match(r"(\S+) => (/\S+) \(", line) or re.match(r"((/\S+)) \(", line)
        if m:
            libraries.append((os.path.basename(m.group(1)), m.group(2)))
    return libraries


def owning_packages(path):
    """Debian packages owning a library path. Debian 12 merges /lib into /usr/lib, and dpkg
    records a file under whichever path its package ships, so every spelling is asked."""
    candidates = []
    for p in (path, os.path.realpath(path)):
        candidates.append(p)
        if p.startswith("/usr/"):
            candidates.append(p[len("/usr"):])
        else:
            candidates.append("/usr" + p)
    for c in candidates:
        out = subprocess.run(["dpkg", "-S", c], capture_output=True, text=True)
        if out.returncode == 0:
            owners = out.stdout.splitlines()[0].rsplit(": ", 1)[0]
            return {o.strip().split(":")[0] for o in owners.split(",")}
    return set()


class DeployTest(unittest.TestCase):
    def test_yaml_parses(self):
        files = list(deploy_files(".yml", ".yaml"))
        self.assertGreaterEqual(len(files), 7)
        for f in files:
            with self.subTest(file=f):
                self.assertTrue(load_yaml_all(f), f + " is empty")

    def test_promtool_accepts_config_and_rules(self):
        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool missing: scripts/deps.sh installs 'prometheus'")
        rules = os.path.join(DEPLOY, "prometheus", "ewarn-rules.yml")
        out = subprocess.run([promtool, "check", "rules", rules], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        # The config names the rules at their in-container path; check it against the local copy.
        with tempfile.TemporaryDirectory() as tmp:
            cfg = load_yaml(os.path.join(DEPLOY, "prometheus", "prometheus.yml"))
            cfg["rule_files"] = [rules]
            path = os.path.join(tmp, "prometheus.yml")
            with open(path, "w") as f:
                yaml.safe_dump(cfg, f)
            out = subprocess.run([promtool, "check", "config", path], capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_prometheus_scrapes_every_compose_node(self):
        cfg = load_yaml(os.path.join(DEPLOY, "prometheus", "prometheus.yml"))
        targets = {t for job in cfg["scrape_configs"] for s in job.get("static_configs", []) for t in s["targets"]}
        for name, svc in ewarn_services(compose_config()).items():
            argv = [str(a) for a in svc["command"]]
            if "--metrics" in argv:
                with self.subTest(node=name):
                    port = flag_value(argv, "--metrics").rsplit(":", 1)[1]
                    self.assertIn("%s:%s" % (name, port), targets)

    # --- Compose ---

    def test_docker_compose_config_accepts_the_file(self):
        with tempfile.TemporaryDirectory() as secrets:
            make_key_files(secrets)
            out = docker_compose(["config", "-q"], secrets)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            # The same check refuses a broken file: a service with a key Compose does not know.
            broken = os.path.join(secrets, "broken.yml")
            with open(broken, "w") as f:
                f.write("services:\n  ewarn-1:\n    no_such_compose_key: 1\n")
            out = docker_compose(["config", "-q"], secrets, extra_files=[broken])
            self.assertNotEqual(out.returncode, 0, "docker-compose config accepted an unknown key")
            self.assertIn("no_such_compose_key", out.stderr)

    def test_compose_has_three_kraft_brokers_with_replication_3(self):
        brokers = kafka_services(compose_config())
        self.assertEqual(len(brokers), 3, sorted(brokers))
        envs = {n: {k: str(v) for k, v in s["environment"].items()} for n, s in brokers.items()}
        voters = {e["KAFKA_CONTROLLER_QUORUM_VOTERS"] for e in envs.values()}
        self.assertEqual(len(voters), 1, "the brokers disagree on the controller quorum")
        expected_voters = {"%s@%s:9093" % (e["KAFKA_NODE_ID"], n) for n, e in envs.items()}
        self.assertEqual(set(voters.pop().split(",")), expected_voters)
        self.assertEqual(len({e["CLUSTER_ID"] for e in envs.values()}), 1, "one CLUSTER_ID for all brokers")
        for name, env in envs.items():
            with self.subTest(broker=name):
                self.assertEqual(set(env["KAFKA_PROCESS_ROLES"].split(",")), {"broker", "controller"})
                self.assertEqual(env["KAFKA_DEFAULT_REPLICATION_FACTOR"], "3")
                self.assertEqual(env["KAFKA_MIN_INSYNC_REPLICAS"], "2")
                self.assertEqual(env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"], "false")
                self.assertEqual(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"], "3")
                self.assertIn("PLAINTEXT://%s:9092" % name, env["KAFKA_ADVERTISED_LISTENERS"].split(","))
                self.assertIn(brokers[name].get("restart"), ("always", "unless-stopped"))
                self.assertIn("healthcheck", brokers[name])
                log_dir = env["KAFKA_LOG_DIRS"]
                self.assertIn(log_dir, [t for _, _, t in volume_mounts(brokers[name])],
                              "the broker's log directory is not on a volume")

    def test_compose_topics_job_creates_topics_before_the_nodes_start(self):
        config = compose_config()
        brokers = kafka_services(config)
        jobs = {n: s for n, s in ewarn_services(config).items() if command_words(s["command"]) == ["topics", "create"]}
        self.assertEqual(len(jobs), 1, "one `ewarn topics create` job")
        name, job = jobs.popitem()
        argv = [str(a) for a in job["command"]]
        self.assertEqual(set(flag_value(argv, "--kafka").split(",")), {"%s:9092" % b for b in brokers})
        self.assertEqual(flag_value(argv, "--partitions"), "8")
        self.assertEqual(flag_value(argv, "--replication-factor"), "3")
        self.assertEqual(job.get("restart"), "on-failure", "a one-shot job: retried until the brokers answer")
        for b in brokers:
            self.assertEqual(job["depends_on"][b]["condition"], "service_healthy")
        nodes = {n: s for n, s in ewarn_services(config).items() if command_words(s["command"]) == ["serve"]}
        for node, svc in nodes.items():
            with self.subTest(node=node):
                self.assertEqual(svc["depends_on"][name]["condition"], "service_completed_successfully")

    def test_compose_runs_two_ewarn_nodes_with_http_health_and_keys(self):
        config = compose_config()
        brokers = kafka_services(config)
        nodes = {n: s for n, s in ewarn_services(config).items() if command_words(s["command"]) == ["serve"]}
        self.assertGreaterEqual(len(nodes), 2)
        state_volumes, host_ports = [], []
        for name, svc in sorted(nodes.items()):
            with self.subTest(node=name):
                argv = [str(a) for a in svc["command"]]
                self.assertEqual(set(flag_value(argv, "--kafka").split(",")), {"%s:9092" % b for b in brokers})
                self.assertIn(svc.get("restart"), ("always", "unless-stopped", "on-failure"))
                http_port = int(flag_value(argv, "--http").rsplit(":", 1)[1])
                self.assertTrue(flag_value(argv, "--http").startswith("0.0.0.0:"), "reachable from outside the container")
                published = {int(p["target"]): int(p["published"]) for p in svc["ports"]}
                self.assertIn(http_port, published, "--http's port is not published")
                host_ports += list(published.values())
                check = " ".join(svc["healthcheck"]["test"])
                self.assertIn("http://127.0.0.1:%d/healthz" % http_port, check)
                mounted = {s["source"] for s in svc["secrets"]}
                for flag in ("--secret-file", "--webhook-key-file"):
                    path = flag_value(argv, flag)
                    self.assertTrue(path.startswith("/run/secrets/"), flag + " is not a Compose secret")
                    secret = path[len("/run/secrets/"):]
                    self.assertIn(secret, mounted, "%s names secret %s, which the node does not mount" % (flag, secret))
                    self.assertIn("file", config["secrets"][secret], "secret %s is not made from a file" % secret)
                data = flag_value(argv, "--data")
                volume = [(kind, source) for kind, source, target in volume_mounts(svc) if target == data]
                self.assertEqual(len(volume), 1, "--data %s is not a volume" % data)
                self.assertEqual(volume[0][0], "volume")
                state_volumes.append(volume[0][1])
        self.assertEqual(len(set(state_volumes)), len(state_volumes), "each node needs its own state volume")
        self.assertEqual(len(set(host_ports)), len(host_ports), "two nodes publish the same host port")
        # The secret files are read from EWARN_SECRETS_DIR (the test's temporary directory).
        for name, secret in config["secrets"].items():
            self.assertEqual(os.path.dirname(secret["file"]), config["_secrets_dir"], name)

    # --- Kubernetes ---

    def test_kubernetes_objects_are_well_formed(self):
        objects = kubernetes_objects()
        kinds = sorted(o["kind"] for o in objects)
        for kind in ("Namespace", "ConfigMap", "StatefulSet", "PodDisruptionBudget", "Job"):
            self.assertIn(kind, kinds)
        self.assertGreaterEqual(kinds.count("Service"), 2, "a headless Service and one for HTTP")
        namespace = kustomization()["namespace"]
        for o in objects:
            with self.subTest(object=o["kind"] + "/" + o["metadata"].get("name", "?")):
                self.assertIn("apiVersion", o)
                self.assertIn("name", o["metadata"])
                if o["kind"] != "Namespace":
                    self.assertEqual(o["metadata"].get("namespace"), namespace)

    def test_kubernetes_statefulset(self):
        (sts,) = objects_of("StatefulSet")
        pod = sts["spec"]["template"]
        labels = pod["metadata"]["labels"]
        self.assertEqual(sts["spec"]["selector"]["matchLabels"], labels)
        spec = pod["spec"]
        (container,) = spec["containers"]
        argv = [str(a) for a in container["args"]]
        self.assertEqual(command_words(argv), ["serve"])
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        http_port = int(flag_value(argv, "--http").rsplit(":", 1)[1])
        self.assertEqual(ports.get("http"), http_port, "containerPort 'http' is not --http's port")
        if "--metrics" in argv:
            self.assertEqual(ports.get("metrics"), int(flag_value(argv, "--metrics").rsplit(":", 1)[1]))

        # Each pod its own state volume, mounted where --data points.
        claims = {v["metadata"]["name"] for v in sts["spec"]["volumeClaimTemplates"]}
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        data_mounts = [n for n, p in mounts.items() if p == flag_value(argv, "--data")]
        self.assertEqual(len(data_mounts), 1)
        self.assertIn(data_mounts[0], claims, "--data is not on a volumeClaimTemplate")

        for probe in ("readinessProbe", "livenessProbe"):
            with self.subTest(probe=probe):
                get = container[probe]["httpGet"]
                self.assertEqual(get["path"], "/healthz")
                self.assertIn(get["port"], ("http", http_port))
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                self.assertIn(resource, container["resources"][kind], "%s.%s missing" % (kind, resource))

        # The two keys from the Secret, mounted as the files --secret-file/--webhook-key-file name.
        generated = {g["name"]: dict(f.split("=", 1) for f in g["files"])
                     for g in kustomization().get("secretGenerator", [])}
        secret_volumes = {v["name"]: v["secret"] for v in spec["volumes"] if "secret" in v}
        files = {}
        for m in container["volumeMounts"]:
            if m["name"] in secret_volumes:
                self.assertTrue(m.get("readOnly"))
                secret = secret_volumes[m["name"]]
                self.assertIn(secret["secretName"], generated, "the Secret is not made by kustomization.yaml")
                for item in secret["items"]:
                    self.assertIn(item["key"], generated[secret["secretName"]])
                    files[os.path.join(m["mountPath"], item["path"])] = item["key"]
        for flag in ("--secret-file", "--webhook-key-file"):
            self.assertIn(flag_value(argv, flag), files, flag + " is not a file of the key Secret")

        # Every $(VAR) in the args is defined, from the ConfigMap that holds it.
        env = {e["name"]: e for e in container.get("env", [])}
        configmaps = {c["metadata"]["name"]: c["data"] for c in objects_of("ConfigMap")}
        for var in re.findall(r"\$\((\w+)\)", " ".join(argv)):
            self.assertIn(var, env)
            ref = env[var]["valueFrom"]["configMapKeyRef"]
            self.assertIn(ref["key"], configmaps[ref["name"]])

        # The pods run as the image's user (deploy/Dockerfile's USER), and stay apart.
        uid = re.findall(r"^USER\s+(\d+)", read_text(DOCKERFILE), re.MULTILINE)
        self.assertEqual([str(spec["securityContext"]["runAsUser"])], uid)
        anti = spec["affinity"]["podAntiAffinity"]
        terms = anti.get("requiredDuringSchedulingIgnoredDuringExecution", []) + [
            t["podAffinityTerm"] for t in anti.get("preferredDuringSchedulingIgnoredDuringExecution", [])]
        self.assertTrue(terms)
        for t in terms:
            self.assertEqual(t["labelSelector"]["matchLabels"], labels)
            self.assertEqual(t["topologyKey"], "kubernetes.io/hostname")

    def test_kubernetes_services_and_disruption_budget_select_the_pods(self):
        (sts,) = objects_of("StatefulSet")
        labels = sts["spec"]["template"]["metadata"]["labels"]
        port_names = {p["name"] for c in pod_spec(sts)["containers"] for p in c["ports"]}
        services = {s["metadata"]["name"]: s for s in objects_of("Service")}
        headless = services[sts["spec"]["serviceName"]]
        self.assertEqual(headless["spec"].get("clusterIP"), "None", "the StatefulSet's Service is headless")
        http = [s for s in services.values() if s["spec"].get("clusterIP") != "None"]
        self.assertTrue(any(p["targetPort"] == "http" for s in http for p in s["spec"]["ports"]),
                        "no Service for the HTTP API")
        for name, svc in services.items():
            with self.subTest(service=name):
                self.assertEqual(svc["spec"]["selector"], labels)
                for p in svc["spec"]["ports"]:
                    self.assertIn(p["targetPort"], port_names)
        (pdb,) = objects_of("PodDisruptionBudget")
        self.assertEqual(pdb["spec"]["selector"]["matchLabels"], labels)
        self.assertTrue("maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"])

    def test_kubernetes_topics_job(self):
        jobs = [j for j in objects_of("Job") if command_words(pod_spec(j)["containers"][0]["args"]) == ["topics", "create"]]
        self.assertEqual(len(jobs), 1)
        spec = pod_spec(jobs[0])
        argv = [str(a) for a in spec["containers"][0]["args"]]
        (sts,) = objects_of("StatefulSet")
        serve_argv = [str(a) for a in pod_spec(sts)["containers"][0]["args"]]
        self.assertEqual(flag_value(argv, "--kafka"), flag_value(serve_argv, "--kafka"), "the same brokers")
        self.assertEqual(flag_value(argv, "--partitions"), "8")
        self.assertEqual(flag_value(argv, "--replication-factor"), "3")
        self.assertIn(spec["restartPolicy"], ("OnFailure", "Never"))

    # --- the binary against the manifests ---

    def test_flag_check_names_an_unknown_flag(self):
        # The check below is only as good as this: a flag the binary lacks is reported.
        self.assertEqual(unknown_flags(["serve", "--data", "/d", "--no-such-flag", "1"]), ["--no-such-flag"])
        self.assertEqual(unknown_flags(["serve", "--data=/d", "--http", "0.0.0.0:8080"]), [])
        with self.assertRaises(AssertionError):
            known_flags(["no-such-command"])

    def test_every_deployed_flag_is_in_ewarn_help(self):
        lines = list(ewarn_command_lines())
        self.assertGreaterEqual(len(lines), 5)  # compose: topics + 2 nodes; kubernetes: StatefulSet + Job
        for where, argv in lines:
            with self.subTest(where=where):
                unknown = unknown_flags(argv)
                self.assertEqual(unknown, [], "%s uses %s, which `ewarn %s --help` does not list"
                                 % (where, ", ".join(unknown), " ".join(command_words(argv))))

    def test_ewarn_accepts_every_deployed_command_line(self):
        # Values too: the binary parses the whole line before --help stops it.
        for where, argv in ewarn_command_lines():
            with self.subTest(where=where):
                out = subprocess.run([EWARN] + argv + ["--help"], capture_output=True, text=True)
                self.assertEqual(out.returncode, 0, where + ": " + out.stdout + out.stderr)

    # --- a live serve ---

    def live_serve(self):
        """Starts one `ewarn serve` with --http and --metrics; returns (http port, metrics port)."""
        ports = []
        for _ in range(2):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            ports.append(sock.getsockname()[1])
            sock.close()
        data = tempfile.TemporaryDirectory()
        self.addCleanup(data.cleanup)
        proc = subprocess.Popen([EWARN, "serve", "--data", data.name, "--partitions", "2", "--tick-ms", "100",
                                 "--duration", "30", "--http", "127.0.0.1:%d" % ports[0],
                                 "--metrics", "127.0.0.1:%d" % ports[1]],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def stop():
            proc.terminate()
            proc.wait(timeout=40)
        self.addCleanup(stop)
        return ports

    def test_probe_paths_answer_on_a_live_serve(self):
        paths = set()
        for svc in ewarn_services(compose_config()).values():
            if "healthcheck" in svc:
                paths |= set(re.findall(r"http://127\.0\.0\.1:\d+(/\S*)", " ".join(svc["healthcheck"]["test"])))
        for sts in objects_of("StatefulSet"):
            for c in pod_spec(sts)["containers"]:
                paths |= {c[p]["httpGet"]["path"] for p in ("startupProbe", "readinessProbe", "livenessProbe") if p in c}
        self.assertEqual(paths, {"/healthz"})
        http_port, _ = self.live_serve()
        status, deadline = None, time.time() + 20
        while time.time() < deadline:
            try:
                status = urllib.request.urlopen("http://127.0.0.1:%d/healthz" % http_port, timeout=2).status
                break
            except OSError:
                time.sleep(0.2)
        self.assertEqual(status, 200, "GET /healthz on a live ewarn serve")

    def test_dashboard_and_rules_query_only_exported_metrics(self):
        dash = json.loads(read_text(os.path.join(DEPLOY, "grafana", "ewarn-dashboard.json")))
        exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
        rules = load_yaml(os.path.join(DEPLOY, "prometheus", "ewarn-rules.yml"))
        exprs += [r["expr"] for g in rules["groups"] for r in g["rules"]]
        wanted = {m for e in exprs for m in re.findall(r"\bewarn_[a-z_]+", e)}
        self.assertTrue(wanted)
        _, metrics_port = self.live_serve()
        exported, deadline = set(), time.time() + 15
        while time.time() < deadline:
            try:
                text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=2).read().decode()
                exported = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("ewarn_")}
                if "ewarn_processors_consumer_lag" in exported:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        for m in sorted(wanted):
            with self.subTest(metric=m):
                self.assertIn(m, exported, "dashboard/rules query %s, which ewarn does not export" % m)

    # --- the runtime image ---

    def test_runtime_packages_parser(self):
        text = ("FROM debian:12 AS build\nRUN apt-get install -y g++ cmake\n"
                "FROM debian:12\nRUN apt-get update && apt-get install -y --no-install-recommends \\\n"
                "      libc6 librdkafka1 \\\n      curl \\\n    && rm -rf /var/lib/apt/lists/*\n")
        self.assertEqual(runtime_packages(text), ["libc6", "librdkafka1", "curl"])

    def test_runtime_image_installs_every_linked_library(self):
        listed = set(runtime_packages(read_text(DOCKERFILE)))
        self.assertTrue(listed, "no apt-get install in deploy/Dockerfile's runtime stage")
        libraries = linked_libraries(EWARN)
        self.assertGreaterEqual(len(libraries), 5)
        for soname, path in libraries:
            with self.subTest(library=soname):
                owners = owning_packages(path)
                self.assertTrue(owners, "dpkg -S knows no package for %s (%s)" % (soname, path))
                self.assertTrue(owners & listed, "%s (%s) is in Debian package %s, which deploy/Dockerfile's "
                                "runtime apt-get install does not list" % (soname, path, " or ".join(sorted(owners))))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--ewarn", required=True)
    args, rest = parser.parse_known_args()
    EWARN = args.ewarn
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
