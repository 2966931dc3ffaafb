#!/usr/bin/python3
"""Every manifest of deploy/k8s/ against what ssid serves (make check-k8s).

    tests/deb/check-k8s.py build/ssid

Parses every deploy/k8s/*.yaml (python3-yaml) and checks:
  * kinds and API versions; kustomization.yaml lists every other manifest;
    no Secret and no secret value is committed;
  * the probes: liveness and startup on /healthz, readiness on /readyz, on
    the container port named "metrics", which is the port the ConfigMap's
    ssid.conf gives metrics.listen, on every address of the pod (the kubelet
    connects to the pod's IP, not to its loopback). The paths are checked
    against the daemon's source (string literals in src/ssid_*.c), the key
    against the key table (`ssid --list-keys`): if either is missing, the
    metrics module is not there and the check says so;
  * the ConfigMap: its ssid.conf is accepted by `ssid --check-config` (with the mounted files pointed at
    temporary copies), and its model.json is config/model.json;
  * the Secret is mounted where redis.password_file points;
  * replicas (plus the rolling update's surge) at most the partitions the
    Deployment states (annotation ssid/input-partitions), and a
    PodDisruptionBudget selecting exactly its pods;
  * memory request at least the peak RSS measured in the README
    (Benchmarks, "ssid peak RSS, ranks on"), limit at least the request;
  * terminationGracePeriodSeconds above shutdown.timeout_ms, and the
    container locked down (non-root, read-only root, no capabilities).
"""
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

K8S = "deploy/k8s"
failures = []


def fail(msg):
    failures.append(msg)
    print(f"check-k8s: FAIL: {msg}", file=sys.stderr)


def expect(what, want, got):
    if want != got:
        fail(f"{what}: expected {want!r}, got {got!r}")


def quantity(q):
    """Kubernetes memory quantity to bytes."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    m = re.fullmatch(r"([0-9]+)([KMG]i?)?", str(q))
    if not m:
        raise ValueError(f"unsupported quantity {q!r}")
    return int(m.group(1)) * units.get(m.group(2) or "", 1)


def conf_lines(text):
    """key = value lines of an ssid.conf (comments and blanks skipped)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} SSID_BINARY", file=sys.stderr)
        return 64
    ssid = sys.argv[1]

    # --- what ssid serves ---------------------------------------------------
    keys = {}
    for line in subprocess.run([ssid, "--list-keys"], check=True, capture_output=True,
                               text=True).stdout.splitlines():
        f = line.split("\t")
        keys[f[0]] = f[1]
    if "metrics.listen" not in keys:
        print(f"check-k8s: {ssid} --list-keys has no metrics.listen: the metrics module "
              "(issue 12, metrics and health) is not merged, so there is nothing for the "
              "probes to reach", file=sys.stderr)
        return 1
    source = "".join(open(p).read() for p in sorted(glob.glob("src/ssid_*.c")))
    for path in ("/metrics", "/healthz", "/readyz"):
        if f'"{path}"' not in source:
            print(f"check-k8s: no \"{path}\" in src/ssid_*.c: the metrics module "
                  "(issue 12, metrics and health) is not merged", file=sys.stderr)
            return 1

    # --- parse everything ----------------------------------------------------
    docs = []
    files = sorted(glob.glob(f"{K8S}/*.yaml"))
    for path in files:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if doc is None:
                    continue
                for field in ("apiVersion", "kind"):
                    if field not in doc:
                        fail(f"{path}: a document without {field}")
                docs.append((path, doc))
    by_kind = {}
    for path, doc in docs:
        by_kind.setdefault(doc.get("kind"), []).append((path, doc))
    api = {"Deployment": "apps/v1", "ConfigMap": "v1", "PodDisruptionBudget": "policy/v1",
           "Kustomization": "kustomize.config.k8s.io/v1beta1"}
    for kind, version in api.items():
        found = by_kind.get(kind, [])
        expect(f"number of {kind} documents", 1, len(found))
        for path, doc in found:
            expect(f"{path}: apiVersion of {kind}", version, doc["apiVersion"])
    unknown = set(by_kind) - set(api)
    if unknown:
        fail(f"unexpected kinds {sorted(unknown)} (a Secret must not be committed)")
    if len(failures):
        return 1
    _, kust = by_kind["Kustomization"][0]
    _, dep = by_kind["Deployment"][0]
    _, cm = by_kind["ConfigMap"][0]
    _, pdb = by_kind["PodDisruptionBudget"][0]
    expect("kustomization resources",
           sorted(os.path.basename(p) for p in files if not p.endswith("kustomization.yaml")),
           sorted(kust["resources"]))
    for path, doc in docs:
        if doc["kind"] != "ConfigMap" and ("data" in doc or "stringData" in doc):
            fail(f"{path}: {doc['kind']} carries data")
    if not failures:
        print(f"check-k8s: {len(docs)} documents in {len(files)} files parse, kinds and API "
              "versions as expected")

    # --- the Deployment's pod -------------------------------------------------
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    selector = spec["selector"]["matchLabels"]
    for k, v in selector.items():
        expect(f"pod label {k}", v, labels.get(k))
    expect("PodDisruptionBudget selector", selector, pdb["spec"]["selector"]["matchLabels"])
    expect("PodDisruptionBudget maxUnavailable", 1, pdb["spec"].get("maxUnavailable"))
    conf = conf_lines(cm["data"]["ssid.conf"])
    m = re.fullmatch(r"(.*):([0-9]+)", conf.get("metrics.listen", ""))
    if not m:
        fail(f"the ConfigMap's ssid.conf sets no metrics.listen = HOST:PORT "
             f"({conf.get('metrics.listen')!r})")
        return 1
    port = int(m.group(2))
    if m.group(1) not in ("", "0.0.0.0", "[::]"):
        fail(f"metrics.listen = {conf['metrics.listen']}: the kubelet's probes come from "
             "outside the pod; listen on every address (\":PORT\")")
    containers = pod["containers"]
    expect("containers", ["ssid"], [c["name"] for c in containers])
    c = containers[0]
    expect("command", ["/usr/bin/ssid", "--config", "/etc/ssid/ssid.conf"], c.get("command"))
    ports = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    expect("containerPort named metrics", port, ports.get("metrics"))

    def probe(name, want_path):
        p = c.get(name)
        if not p:
            fail(f"no {name}")
            return
        get = p.get("httpGet", {})
        expect(f"{name} path", want_path, get.get("path"))
        got_port = get.get("port")
        expect(f"{name} port", port, ports.get(got_port, got_port))

    before = len(failures)
    probe("livenessProbe", "/healthz")
    probe("startupProbe", "/healthz")
    probe("readinessProbe", "/readyz")
    ann = spec["template"]["metadata"].get("annotations", {})
    expect("prometheus.io/port", str(port), ann.get("prometheus.io/port"))
    expect("prometheus.io/path", "/metrics", ann.get("prometheus.io/path"))
    if len(failures) == before:
        print(f"check-k8s: probes on /healthz and /readyz, port {port} (the ConfigMap's "
              "metrics.listen)")

    # --- replicas and partitions ----------------------------------------------
    partitions = int(dep["metadata"]["annotations"]["ssid/input-partitions"])
    replicas = spec["replicas"]
    surge = spec["strategy"]["rollingUpdate"]["maxSurge"]
    if not 2 <= replicas or replicas + surge > partitions:
        fail(f"replicas {replicas} + maxSurge {surge} must stay within {partitions} "
             "partitions, with at least 2 replicas for the disruption budget")
    else:
        print(f"check-k8s: {replicas} replicas + {surge} surge within {partitions} partitions")

    # --- resources from the README's RSS --------------------------------------
    m = re.search(r"^\| ssid peak RSS, ranks on / off(?: / cluster)? \| ([0-9]+) / ([0-9]+)(?: / [0-9]+)? MiB \|$",
                  open("README.md").read(), re.M)
    if not m:
        fail("README.md has no \"| ssid peak RSS, ranks on / off[ / cluster] | N / M[ / K] MiB |\" row")
    else:
        rss = int(m.group(1)) * 2**20
        req = quantity(c["resources"]["requests"]["memory"])
        lim = quantity(c["resources"]["limits"]["memory"])
        if req < rss or lim < req:
            fail(f"memory request {req >> 20} MiB must be at least the measured RSS "
                 f"{rss >> 20} MiB, the limit {lim >> 20} MiB at least the request")
        else:
            print(f"check-k8s: memory request {req >> 20} MiB, limit {lim >> 20} MiB, "
                  f"measured peak RSS {rss >> 20} MiB")

    # --- ConfigMap, Secret, mounts ------------------------------------------------
    vols = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    cfg = mounts.get("/etc/ssid")
    if not cfg or vols[cfg["name"]].get("configMap", {}).get("name") != cm["metadata"]["name"]:
        fail(f"the ConfigMap {cm['metadata']['name']} is not mounted at /etc/ssid")
    expect("ConfigMap keys", ["model.json", "ssid.conf"], sorted(cm["data"]))
    with open("config/model.json") as f:
        if json.loads(cm["data"]["model.json"]) != json.load(f):
            fail("the ConfigMap's model.json differs from config/model.json")
    pw = conf.get("redis.password_file", "")
    secret_dir, secret_file = os.path.split(pw)
    sm = mounts.get(secret_dir)
    secret = vols[sm["name"]].get("secret") if sm else None
    if not secret or not secret.get("secretName"):
        fail(f"no Secret mounted at {secret_dir!r} (redis.password_file = {pw!r})")
    else:
        expect("Secret item for redis.password_file", [secret_file],
               [i["path"] for i in secret.get("items", []) if i["path"] == secret_file])
    shutdown_ms = int(conf.get("shutdown.timeout_ms", keys["shutdown.timeout_ms"]))
    if pod["terminationGracePeriodSeconds"] * 1000 < shutdown_ms + 5000:
        fail(f"terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} leaves "
             f"less than 5 s over shutdown.timeout_ms {shutdown_ms}")

    # ssid itself accepts the ConfigMap's ssid.conf, the mounted files at
    # temporary paths (the only lines changed).
    with tempfile.TemporaryDirectory() as tmp:
        with open(f"{tmp}/model.json", "w") as f:
            f.write(cm["data"]["model.json"])
        with open(os.open(f"{tmp}/redis-password", os.O_WRONLY | os.O_CREAT, 0o600),
                  "w") as f:
            f.write("not-a-real-password\n")
        text = cm["data"]["ssid.conf"].replace(pw, f"{tmp}/redis-password")
        if "model.file" in conf:
            fail("the ConfigMap sets model.file: the mount at /etc/ssid is the default")
        with open(f"{tmp}/ssid.conf", "w") as f:
            f.write(text + f"model.file = {tmp}/model.json\n")
        r = subprocess.run([ssid, "--check-config", "--config", f"{tmp}/ssid.conf"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            fail(f"ssid --check-config refuses the ConfigMap's ssid.conf (exit "
                 f"{r.returncode}): {r.stderr.strip()}")
        else:
            print("check-k8s: ssid --check-config accepts the ConfigMap's ssid.conf and model")

    # --- lock-down ------------------------------------------------------------
    psc, csc = pod.get("securityContext", {}), c.get("securityContext", {})
    expect("runAsNonRoot", True, psc.get("runAsNonRoot"))
    expect("readOnlyRootFilesystem", True, csc.get("readOnlyRootFilesystem"))
    expect("allowPrivilegeEscalation", False, csc.get("allowPrivilegeEscalation"))
    expect("capabilities dropped", ["ALL"], csc.get("capabilities", {}).get("drop"))

    if failures:
        print(f"check-k8s: {len(failures)} failures", file=sys.stderr)
        return 1
    print("check-k8s: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
