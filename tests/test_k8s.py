"""The deployment: Dockerfile, k8s manifests (kustomize base + overlays), offline checks.

Kubernetes is not reachable here: every manifest is validated against the
Kubernetes API's JSON schemas (``kubernetes-validate``, strict: unknown fields
fail), the overlays are built with kustomize (``scripts/kustomize.sh``), and the
worker's shell entry point is run for real to check the Bytewax arguments and
recovery partition it makes from a pod name.
"""

from __future__ import annotations

import importlib
import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from flowsense.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "k8s"
K8S_VERSION = "1.30.0"
OVERLAYS = ("dev", "prod")


def kustomize_build(path: Path) -> list[dict]:
    out = subprocess.run(
        [str(ROOT / "scripts" / "kustomize.sh"), "build", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@pytest.fixture(scope="module")
def built() -> dict[str, list[dict]]:
    return {name: kustomize_build(K8S / "overlays" / name) for name in OVERLAYS} | {
        "base": kustomize_build(K8S / "base")
    }


def one(docs: list[dict], kind: str, name: str) -> dict:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def container(pod_spec: dict, name: str, init: bool = False) -> dict:
    key = "initContainers" if init else "containers"
    return next(c for c in pod_spec[key] if c["name"] == name)


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


def base_resources() -> list[Path]:
    kust = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())
    return [K8S / "base" / r for r in kust["resources"]]


@pytest.mark.parametrize("path", base_resources(), ids=lambda p: p.name)
def test_base_manifest_validates_against_the_kubernetes_schema(path: Path):
    for doc in yaml.safe_load_all(path.read_text()):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_overlays_build_and_every_object_validates(built):
    for name, docs in built.items():
        kinds = sorted({d["kind"] for d in docs})
        assert kinds == sorted(
            {
                "ConfigMap",
                "Deployment",
                "HorizontalPodAutoscaler",
                "PodDisruptionBudget",
                "Service",
                "StatefulSet",
            }
        ), name
        for doc in docs:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_a_schema_violation_is_caught():
    """The validator is not a no-op: a typo'd field fails in strict mode."""
    doc = yaml.safe_load((K8S / "base" / "api-pdb.yaml").read_text())
    doc["spec"]["minAvailabel"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_worker_process_count_equals_the_statefulset_replicas(built, overlay):
    docs = built[overlay]
    sts = one(docs, "StatefulSet", "flowsense-worker")
    pod = sts["spec"]["template"]["spec"]
    for c in (container(pod, "worker"), container(pod, "recovery-init", init=True)):
        assert int(env_of(c)["BYTEWAX_PROCESSES"]["value"]) == sts["spec"]["replicas"], c["name"]
    svc = one(docs, "Service", sts["spec"]["serviceName"])
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["publishNotReadyAddresses"]
    assert svc["spec"]["selector"].items() <= sts["spec"]["template"]["metadata"]["labels"].items()
    claim = sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    mounts = {m["name"]: m["mountPath"] for m in container(pod, "worker")["volumeMounts"]}
    assert mounts[claim] == "/var/lib/flowsense/recovery"


def test_prod_resources_are_the_seeds(built):
    docs = built["prod"]
    worker = container(
        one(docs, "StatefulSet", "flowsense-worker")["spec"]["template"]["spec"], "worker"
    )
    api = container(one(docs, "Deployment", "flowsense-api")["spec"]["template"]["spec"], "api")
    assert worker["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    assert api["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_api_probes_hpa_and_pdb_point_at_the_api(built, overlay):
    docs = built[overlay]
    dep = one(docs, "Deployment", "flowsense-api")
    api = container(dep["spec"]["template"]["spec"], "api")
    for probe in ("readinessProbe", "livenessProbe"):
        assert api[probe]["httpGet"]["path"] == "/api/v1/health"
        assert api[probe]["httpGet"]["port"] == api["ports"][0]["name"]
    hpa = one(docs, "HorizontalPodAutoscaler", "flowsense-api")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "flowsense-api"
    assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    labels = dep["spec"]["template"]["metadata"]["labels"]
    pdb = one(docs, "PodDisruptionBudget", "flowsense-api")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    svc = one(docs, "Service", "flowsense-api")
    assert svc["spec"]["selector"].items() <= labels.items()


SECRETISH = re.compile(r"PASSWORD|SECRET|TOKEN|FERNET|_KEY\b|ACCOUNT", re.I)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_secret_values_in_the_manifests(built, overlay):
    docs = built[overlay]
    assert not [d for d in docs if d["kind"] == "Secret"]
    cm = one(
        docs, "ConfigMap", next(d["metadata"]["name"] for d in docs if d["kind"] == "ConfigMap")
    )
    assert not [k for k in cm["data"] if SECRETISH.search(k)]
    for d in docs:
        pod = d.get("spec", {}).get("template", {}).get("spec")
        if not pod:
            continue
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            for name, e in env_of(c).items():
                if SECRETISH.search(name):
                    assert "secretKeyRef" in e.get("valueFrom", {}), f"{name} is not a secretKeyRef"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_configmap_is_valid_settings(built, overlay, monkeypatch):
    """Every key is a real FlowSense setting, read by flowsense/settings.py."""
    cm = next(d for d in built[overlay] if d["kind"] == "ConfigMap")
    for k in [k for k in os.environ if k.startswith("FLOWSENSE_")]:
        monkeypatch.delenv(k)
    for k, v in cm["data"].items():
        assert k.startswith("FLOWSENSE_")
        monkeypatch.setenv(k, v)
    s = Settings()
    for k, v in cm["data"].items():
        obj = s
        for part in k.removeprefix("FLOWSENSE_").lower().split("__"):
            obj = getattr(obj, part)  # an unknown key raises here
        assert str(obj).lower() == v.lower()


def _script(c: dict) -> str:
    assert c["command"][:2] == ["/bin/sh", "-c"]
    return c["command"][2]


def test_worker_entry_point_makes_the_bytewax_cluster_arguments(built, tmp_path):
    """Run the worker's shell with pod 2 of 3; a stand-in ``python`` records its argv."""
    pod = one(built["prod"], "StatefulSet", "flowsense-worker")["spec"]["template"]["spec"]
    stub = tmp_path / "bin" / "python"
    stub.parent.mkdir()
    stub.write_text('#!/bin/sh\nfor a in "$@"; do echo "$a"; done\n')
    stub.chmod(0o755)
    env = {
        "PATH": f"{stub.parent}:/usr/bin:/bin",
        "POD_NAME": "flowsense-worker-2",
        "BYTEWAX_PROCESSES": "3",
    }
    out = subprocess.run(
        ["/bin/sh", "-c", _script(container(pod, "worker"))],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    assert out[:3] == ["-m", "bytewax.run", "dataflows.live:flow"]
    assert out[out.index("-i") + 1] == "2"
    assert out[out.index("-a") + 1] == ";".join(
        f"flowsense-worker-{i}.flowsense-worker:2101" for i in range(3)
    )
    # The flow factory it names exists and is a function of no arguments.
    module, attr = out[2].split(":")
    assert callable(getattr(importlib.import_module(module), attr))


def test_recovery_init_makes_this_pods_partition_only(built, tmp_path):
    """The init container's script, run for real (bytewax.recovery) on a temporary folder."""
    pod = one(built["prod"], "StatefulSet", "flowsense-worker")["spec"]["template"]["spec"]
    script = _script(container(pod, "recovery-init", init=True))
    script = script.replace("/var/lib/flowsense/recovery", str(tmp_path))
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "POD_NAME": "flowsense-worker-1",
        "BYTEWAX_PROCESSES": "3",
        "TMPDIR": str(tmp_path),
    }
    for _ in range(2):  # the second start keeps the partition it has
        subprocess.run(["/bin/sh", "-c", script], env=env, check=True)
        assert sorted(p.name for p in tmp_path.glob("*.sqlite3")) == ["part-1.sqlite3"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_copies_only_paths_that_exist():
    copies = [rest for word, rest in dockerfile_instructions() if word in ("COPY", "ADD")]
    assert copies
    ignored = (ROOT / ".dockerignore").read_text().split()
    for rest in copies:
        args = [a for a in shlex.split(rest) if not a.startswith("--")]
        if rest.startswith("--from"):
            continue  # from an earlier stage
        for src in args[:-1]:
            assert (ROOT / src).exists(), f"COPY {src}: missing"
            assert src not in ignored, f"COPY {src}: excluded by .dockerignore"
    # The wheel's packages are all copied into the build stage.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = {shlex.split(r)[0] for r in copies if not r.startswith("--from")}
    assert set(packages) <= copied


def test_dockerfile_is_multi_stage_locked_and_non_root():
    ins = dockerfile_instructions()
    assert sum(w == "FROM" for w, _ in ins) >= 2
    assert any(w == "RUN" and "uv sync --frozen" in r for w, r in ins)
    user = [r for w, r in ins if w == "USER"]
    assert user and user[-1].split(":")[0] not in ("root", "0")


def _flowsense_ok(args: list[str]) -> None:
    """``flowsense ARGS --help`` parses: the command and its options exist."""
    out = subprocess.run(
        [sys.executable, "-m", "flowsense", *args, "--help"], capture_output=True, text=True
    )
    assert out.returncode == 0, f"flowsense {' '.join(args)}: {out.stderr}"


def test_entry_points_are_the_projects_real_commands(built):
    import json

    ins = dockerfile_instructions()
    entry = json.loads(next(r for w, r in reversed(ins) if w == "ENTRYPOINT"))
    cmd = json.loads(next(r for w, r in reversed(ins) if w == "CMD"))
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert entry == ["flowsense"] and "flowsense" in scripts
    _flowsense_ok(cmd)
    for overlay in OVERLAYS:
        for d in built[overlay]:
            pod = d.get("spec", {}).get("template", {}).get("spec")
            for c in (pod or {}).get("containers", []):
                if "args" in c:  # run through the image's ENTRYPOINT
                    assert "command" not in c
                    _flowsense_ok(c["args"])
