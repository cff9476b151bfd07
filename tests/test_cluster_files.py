"""Static checks of the deployment files in cluster/ (no Docker, Kubernetes or network here).

* every YAML parses; the KubeRay objects (KubeRay v1.7.0) match the CRD schemas, trimmed to the
  fields they use, in tests/data/kuberay-v1.7.0-crd-subset.json (from
  ray-operator/config/crd/bases/ray.io_{rayclusters,rayjobs,raycronjobs}.yaml at tag v1.7.0,
  commit 59d663aeec13760646da3db9c1cf8cfe883e30b7; remade by tests/data/make_kuberay_crd_subset.py):
  required fields, known field names, types, enums, patterns; plus the operator's own checks
  that the schema cannot express (ray-operator/controllers/ray/utils/validation.go, v1.7.0);
* the Kubernetes objects around them have the fields the Kubernetes API marks required;
* the RayJob entrypoints, the crontab line and the systemd unit parse with raydeval's own
  command-line parser; schedules are strict 5-field cron expressions and agree with each other;
* the Ray cluster launcher config validates against Ray's ray-schema.json;
* the Dockerfile installs raydeval with the EXTRAS build argument from a build context its
  .dockerignore lets through; nothing looks like a credential.
"""

from __future__ import annotations

import configparser
import copy
import json
import os
import re
import shlex
import zoneinfo
from pathlib import Path

import pytest
import yaml

from raydeval.cli import build_parser
from raydeval.tasks import all_tasks

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "cluster"
KUBERAY = CLUSTER / "kuberay"
SUBSET = json.loads((ROOT / "tests" / "data" / "kuberay-v1.7.0-crd-subset.json").read_text())
KUBERAY_VERSION = "v1.7.0"
NAMESPACE = "raydeval"

# Required fields of the core Kubernetes objects used, from the Kubernetes API reference
# (batch/v1 CronJob, JobSpec, PodSpec, Container; rbac.authorization.k8s.io/v1 Role, RoleBinding),
# as (kind, path) -> fields; "[]" stands for every item of a list.
K8S_REQUIRED = {
    ("CronJob", "spec"): ["schedule", "jobTemplate"],
    ("CronJob", "spec.jobTemplate.spec"): ["template"],
    ("CronJob", "spec.jobTemplate.spec.template.spec"): ["containers"],
    ("CronJob", "spec.jobTemplate.spec.template.spec.containers[]"): ["name"],
    ("CronJob", "spec.jobTemplate.spec.template.spec.containers[].env[]"): ["name"],
    ("CronJob", "spec.jobTemplate.spec.template.spec.containers[].volumeMounts[]"): ["name", "mountPath"],
    ("CronJob", "spec.jobTemplate.spec.template.spec.volumes[]"): ["name"],
    ("Role", "rules[]"): ["verbs"],
    ("RoleBinding", ""): ["roleRef"],
    ("RoleBinding", "roleRef"): ["apiGroup", "kind", "name"],
    ("RoleBinding", "subjects[]"): ["kind", "name"],
}

# Name limits of ray-operator/controllers/ray/utils/constant.go (v1.7.0).
MAX_NAME = {"RayCluster": 53, "RayJob": 47, "RayCronJob": 36}
DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")


# ---------------------------------------------------------------------------------------------
# loading

def yaml_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d is not None]


def kuberay_docs() -> list[tuple[str, dict]]:
    return [(f.name, d) for f in sorted(KUBERAY.glob("*.yaml")) if f.name != "kuberay-operator-values.yaml"
            for d in yaml_docs(f)]


def ray_objects() -> list[tuple[str, dict]]:
    """(where, object) for every ray.io object, including the RayJob a ConfigMap carries."""
    out = []
    for name, d in kuberay_docs():
        if d["kind"] == "ConfigMap":
            for key, text in d.get("data", {}).items():
                inner = yaml.safe_load(text)
                if isinstance(inner, dict) and str(inner.get("apiVersion", "")).startswith("ray.io/"):
                    out.append((f"{name}:{d['metadata']['name']}/{key}", inner))
        elif d["apiVersion"].startswith("ray.io/"):
            out.append((name, d))
    return out


def one(kind: str, file: str) -> dict:
    (doc,) = [d for d in yaml_docs(KUBERAY / file) if d["kind"] == kind]
    return doc


def cluster_specs(obj: dict) -> list[dict]:
    spec = obj["spec"]
    if obj["kind"] == "RayCluster":
        return [spec]
    job = spec["jobTemplate"] if obj["kind"] == "RayCronJob" else spec
    return [job["rayClusterSpec"]] if "rayClusterSpec" in job else []


def job_specs(obj: dict) -> list[dict]:
    if obj["kind"] == "RayJob":
        return [obj["spec"]]
    return [obj["spec"]["jobTemplate"]] if obj["kind"] == "RayCronJob" else []


def pod_specs(cluster: dict) -> list[dict]:
    groups = [cluster["headGroupSpec"]] + cluster.get("workerGroupSpecs", [])
    return [g["template"]["spec"] for g in groups]


def at_path(node, path: str) -> list:
    """All values at a dotted path; "name[]" walks every item of a list."""
    nodes = [node]
    for part in [p for p in path.split(".") if p]:
        many = part.endswith("[]")
        key = part[:-2] if many else part
        nxt = []
        for n in nodes:
            if key:
                if not isinstance(n, dict) or key not in n:
                    continue
                n = n[key]
            nxt.extend(n if many else [n])
        nodes = nxt
    return nodes


# ---------------------------------------------------------------------------------------------
# a strict 5-field cron expression: numbers, ranges, steps on * or a range, lists; a month or
# weekday name only as a whole field (crontab(5): no ranges or lists of names); weekday 0-6, as
# the Kubernetes CronJob and KubeRay RayCronJob parser (robfig/cron) takes it

MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
WEEKDAYS = {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())}
CRON_FIELDS = (("minute", 0, 59, {}), ("hour", 0, 23, {}), ("day of month", 1, 31, {}),
               ("month", 1, 12, MONTHS), ("day of week", 0, 6, WEEKDAYS))
CRON_ITEM = re.compile(r"(?:(\*)|(\d+)(?:-(\d+))?)(?:/(\d+))?")


def cron_errors(expr: str) -> list[str]:
    fields = expr.split()
    if len(fields) != 5:
        return [f"{expr!r}: {len(fields)} fields, not 5"]
    errors = []
    for text, (name, lo, hi, names) in zip(fields, CRON_FIELDS):
        if text.lower() in names:
            continue
        for item in text.split(","):
            m = CRON_ITEM.fullmatch(item)
            if not m:
                errors.append(f"{name}: {item!r} is not a number, range, step or *")
                continue
            star, a, b, step = m.groups()
            if step is not None and not star and b is None:
                errors.append(f"{name}: step {item!r} needs * or a range before it")
            for v in (a, b):
                if v is not None and not lo <= int(v) <= hi:
                    errors.append(f"{name}: {v} outside {lo}-{hi}")
            if a is not None and b is not None and int(a) > int(b):
                errors.append(f"{name}: range {item!r} runs backwards")
            if step is not None and not 1 <= int(step) <= hi - lo + 1:
                errors.append(f"{name}: step {step} outside 1-{hi - lo + 1}")
    return errors


@pytest.mark.parametrize("expr", ["30 2 * * *", "*/15 0-6,22-23 1,15 * 1-5", "0 0 1 jan *",
                                  "5 4 * * SUN", "0 0-23/2 * * *", "00 07 * DEC 0"])
def test_cron_validator_accepts(expr):
    assert cron_errors(expr) == []


@pytest.mark.parametrize("expr", ["30 2 * *", "30 2 * * * *", "60 2 * * *", "0 24 * * *",
                                  "0 0 0 * *", "0 0 * 13 *", "0 0 * * 7", "5-1 * * * *",
                                  "*/0 * * * *", "5/10 * * * *", "0 0 * jan-mar *",
                                  "0 0 * * mon,fri", "@daily", "0,,5 * * * *", "? * * * *",
                                  "*/61 * * * *", "0 0 L * *"])
def test_cron_validator_rejects(expr):
    assert cron_errors(expr)


# ---------------------------------------------------------------------------------------------
# a validator for the trimmed CRD schemas

def schema_errors(value, schema: dict, where: str) -> list[str]:
    if "$ref" in schema:
        schema = SUBSET["$defs"][schema["$ref"]]
    if schema.get("x-trimmed"):
        return [f"{where}: not in the trimmed CRD schema; run tests/data/make_kuberay_crd_subset.py"]
    types = [a["type"] for a in schema.get("anyOf", []) if "type" in a] or [schema.get("type")]
    if schema.get("x-kubernetes-int-or-string"):
        types = ["integer", "string"]
    checks = {"object": lambda v: isinstance(v, dict), "array": lambda v: isinstance(v, list),
              "string": lambda v: isinstance(v, str), "boolean": lambda v: isinstance(v, bool),
              "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
              "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}
    if None not in types and not any(checks[t](value) for t in types):
        return [f"{where}: {value!r} is not {' or '.join(types)}"]
    errors = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            errors.append(f"{where}: shorter than {schema['minLength']}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{where}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{where}: {value} > {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            if "items" in schema:
                errors += schema_errors(item, schema["items"], f"{where}[{i}]")
    if isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        errors += [f"{where}: required field {r!r} missing" for r in schema.get("required", []) if r not in value]
        for key, sub in value.items():
            if key in props:
                errors += schema_errors(sub, props[key], f"{where}.{key}")
            elif isinstance(extra, dict):
                errors += schema_errors(sub, extra, f"{where}.{key}")
            elif not (extra is True or schema.get("x-kubernetes-preserve-unknown-fields")
                      or (not props and extra is None)):
                errors.append(f"{where}: unknown field {key!r}")
    return errors


def test_subset_names_the_pinned_kuberay():
    src = SUBSET["_source"]
    assert src["tag"] == KUBERAY_VERSION and re.fullmatch(r"[0-9a-f]{40}", src["commit"])
    for kind in ("RayCluster", "RayJob", "RayCronJob"):
        assert SUBSET[kind]["group"] == "ray.io" and SUBSET[kind]["version"] == "v1"
    # the required lists the manifests depend on, as the v1.7.0 CRDs state them
    defs = SUBSET["$defs"]
    assert defs["RayClusterSpec"]["required"] == ["headGroupSpec"]
    assert defs["RayClusterSpec"]["properties"]["headGroupSpec"]["required"] == ["template"]
    assert sorted(defs["RayClusterSpec"]["properties"]["workerGroupSpecs"]["items"]["required"]) == [
        "groupName", "maxReplicas", "minReplicas", "template"]
    assert defs["PodTemplateSpec"]["properties"]["spec"]["required"] == ["containers"]
    assert SUBSET["RayCronJob"]["openAPIV3Schema"]["properties"]["spec"]["required"] == ["jobTemplate", "schedule"]


# ---------------------------------------------------------------------------------------------
# YAML, KubeRay objects

def test_every_yaml_parses():
    files = sorted(CLUSTER.rglob("*.yaml"))
    assert len(files) >= 7
    for f in files:
        docs = yaml_docs(f)
        assert docs and all(isinstance(d, dict) for d in docs), f


def test_kuberay_files_present():
    names = {f.name for f in KUBERAY.glob("*.yaml")}
    assert {"raycluster.yaml", "rayjob-eval.yaml", "rayjob-sweep.yaml", "cronjob-nightly-sweep.yaml",
            "raycronjob-nightly-sweep.yaml"} <= names
    kinds = {(n, d["kind"]) for n, d in kuberay_docs()}
    assert {("raycluster.yaml", "RayCluster"), ("rayjob-eval.yaml", "RayJob"), ("rayjob-sweep.yaml", "RayJob"),
            ("raycronjob-nightly-sweep.yaml", "RayCronJob")} <= kinds


def test_every_kubernetes_object_has_identity():
    for name, d in kuberay_docs():
        assert d.get("apiVersion") and d.get("kind"), name
        assert d["metadata"].get("name") and d["metadata"].get("namespace") == NAMESPACE, (name, d["kind"])
        if d["kind"] not in ("ServiceAccount", "ConfigMap", "Role", "RoleBinding"):
            assert isinstance(d.get("spec"), dict), (name, d["kind"])


@pytest.mark.parametrize("where,obj", ray_objects(), ids=lambda x: x if isinstance(x, str) else "")
def test_ray_object_matches_crd(where, obj):
    kind = obj["kind"]
    assert kind in ("RayCluster", "RayJob", "RayCronJob")
    assert obj["apiVersion"] == "ray.io/v1"
    meta = obj["metadata"]
    name = meta.get("name")
    if name is None:  # created by `kubectl create` with generateName: the server adds 5 characters
        assert where.startswith("cronjob-nightly-sweep.yaml:"), where
        name = meta["generateName"] + "x" * 5
    assert len(name) <= MAX_NAME[kind] and DNS1035.fullmatch(name), name
    assert meta.get("namespace") == NAMESPACE
    assert isinstance(obj.get("spec"), dict)
    assert schema_errors(obj, SUBSET[kind]["openAPIV3Schema"], kind) == []


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


@pytest.mark.parametrize("where,obj", ray_objects(), ids=lambda x: x if isinstance(x, str) else "")
def test_ray_object_passes_operator_checks(where, obj):
    """What ray-operator/controllers/ray/utils/validation.go (v1.7.0) refuses at reconcile time."""
    ray_version = dockerfile_ray_version()
    for cluster in cluster_specs(obj):
        assert cluster["rayVersion"] == ray_version  # the Ray of the image
        if cluster.get("authOptions", {}).get("mode") == "token":
            assert _version(cluster["rayVersion"]) >= (2, 52, 0)
        for pod in pod_specs(cluster):
            assert pod["containers"], where
        for group in cluster.get("workerGroupSpecs", []):
            assert 0 <= group["minReplicas"] <= group.get("replicas", group["minReplicas"]) <= group["maxReplicas"]
            assert DNS1035.fullmatch(group["groupName"])
        for group in [cluster["headGroupSpec"]] + cluster.get("workerGroupSpecs", []):
            params = group.get("rayStartParams", {})
            assert "labels" not in params
            assert not (set(params) & {"num-cpus", "num-gpus", "memory", "resources"} and group.get("resources"))
    for job in job_specs(obj):
        selector = job.get("clusterSelector", {})
        assert ("rayClusterSpec" in job) != bool(selector), "one of rayClusterSpec or clusterSelector"
        if selector:
            assert selector.get("ray.io/cluster") and not job.get("backoffLimit")
        if job.get("ttlSecondsAfterFinished", 0) > 0:
            assert job.get("shutdownAfterJobFinishes") is True
        rules = job.get("deletionStrategy", {}).get("deletionRules", [])
        if rules:
            assert not job.get("shutdownAfterJobFinishes"), "deletionRules exclude shutdownAfterJobFinishes"
            ttl = {}
            for rule in rules:
                cond = rule["condition"]
                assert ("jobStatus" in cond) != ("jobDeploymentStatus" in cond)
                key = (cond.get("jobStatus"), cond.get("jobDeploymentStatus"), rule["policy"])
                assert key not in ttl, f"duplicate rule {key}"
                ttl[key] = cond.get("ttlSeconds", 0)
            order = ["DeleteWorkers", "DeleteCluster", "DeleteSelf"]
            for status in {k[:2] for k in ttl}:
                seq = [ttl[status + (p,)] for p in order if status + (p,) in ttl]
                assert seq == sorted(seq), f"TTLs must not decrease Workers <= Cluster <= Self: {status}"


def test_core_objects_have_required_fields():
    for name, d in kuberay_docs():
        for (kind, path), fields in K8S_REQUIRED.items():
            if d["kind"] != kind:
                continue
            for node in at_path(d, path):
                missing = [f for f in fields if f not in node]
                assert not missing, f"{name} {kind}.{path}: missing {missing}"


def test_credentials_come_from_the_secret():
    """Every Ray container takes the AWS settings from Secret raydeval-aws; none is written here."""
    for where, obj in ray_objects():
        for cluster in cluster_specs(obj):
            for pod in pod_specs(cluster):
                ray_container = pod["containers"][0]
                refs = [e["secretRef"]["name"] for e in ray_container.get("envFrom", []) if "secretRef" in e]
                assert refs == ["raydeval-aws"], where
                for env in ray_container.get("env", []):
                    assert not (env["name"].startswith("AWS_") and "value" in env), where
        assert obj["kind"] != "Secret"


def test_images_agree_with_the_dockerfile():
    images = set()
    for _, obj in ray_objects():
        for cluster in cluster_specs(obj):
            images |= {c["image"] for pod in pod_specs(cluster) for c in pod["containers"]}
    repos = {i.rsplit(":", 1)[0] for i in images}
    assert len(repos) == 1 and next(iter(repos)).endswith("/raydeval"), images
    assert {i.rsplit(":", 1)[1] for i in images} <= {"0.1.0", "0.1.0-gpu"}


# ---------------------------------------------------------------------------------------------
# what the jobs run

def parse_raydeval(command: str):
    argv = shlex.split(command)
    prog = Path(argv[0]).name
    assert prog == "raydeval", command
    return build_parser().parse_args(argv[1:])


def test_rayjob_eval_runs_raydeval_eval():
    args = parse_raydeval(one("RayJob", "rayjob-eval.yaml")["spec"]["entrypoint"])
    assert args.command == "eval"
    assert args.task in {t.name for t in all_tasks()}
    assert args.out.startswith("s3://") and args.gt.startswith("s3://") and args.pred.startswith("s3://")
    assert args.address is None  # a Ray job joins its own cluster


def sweep_specs() -> list[tuple[str, dict]]:
    out = [("rayjob-sweep.yaml", one("RayJob", "rayjob-sweep.yaml")["spec"]),
           ("raycronjob-nightly-sweep.yaml",
            one("RayCronJob", "raycronjob-nightly-sweep.yaml")["spec"]["jobTemplate"])]
    out += [(w, o["spec"]) for w, o in ray_objects() if w.startswith("cronjob-nightly-sweep.yaml:")]
    return out


def test_sweep_rayjobs_run_raydeval_sweep_and_agree():
    specs = sweep_specs()
    assert len(specs) == 3
    first = specs[0][1]
    for where, spec in specs:
        assert spec == first, f"{where} differs from rayjob-sweep.yaml"
    args = parse_raydeval(first["entrypoint"])
    assert args.command == "sweep" and args.file.endswith("jobs/nightly.toml")
    assert args.history.startswith("s3://")
    # the sweep file comes from ConfigMap raydeval-jobs, mounted on the head where the entrypoint reads it
    head = first["rayClusterSpec"]["headGroupSpec"]["template"]["spec"]
    (mount,) = [m for m in head["containers"][0]["volumeMounts"] if m["name"] == "sweep-jobs"]
    (volume,) = [v for v in head["volumes"] if v["name"] == "sweep-jobs"]
    assert Path(args.file).parent == Path(mount["mountPath"]) and volume["configMap"]["name"] == "raydeval-jobs"
    assert first.get("backoffLimit", 0) == 0  # a regression (exit 3) is not retried
    assert first["activeDeadlineSeconds"] < 24 * 3600  # a sweep ends before the next night's starts


def test_cronjob_creates_the_nightly_rayjob():
    docs = {d["kind"]: d for d in yaml_docs(KUBERAY / "cronjob-nightly-sweep.yaml")}
    assert set(docs) == {"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "CronJob"}
    cron = docs["CronJob"]
    assert cron["apiVersion"] == "batch/v1"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["restartPolicy"] in ("Never", "OnFailure")
    assert pod["serviceAccountName"] == docs["ServiceAccount"]["metadata"]["name"]
    (container,) = pod["containers"]
    assert "kubectl" in container["image"] and not container.get("command")
    verb, flag, path = container["args"]
    assert (verb, flag) == ("create", "-f")  # `create` (not apply) honours metadata.generateName
    (mount,) = container["volumeMounts"]
    (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["configMap"]["name"] == docs["ConfigMap"]["metadata"]["name"]
    assert Path(path).parent == Path(mount["mountPath"]) and Path(path).name in docs["ConfigMap"]["data"]
    # RBAC: the pod's account may create RayJobs in the namespace, nothing more
    role, binding = docs["Role"], docs["RoleBinding"]
    assert role["rules"] == [{"apiGroups": ["ray.io"], "resources": ["rayjobs"], "verbs": ["create"]}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": docs["ServiceAccount"]["metadata"]["name"],
                                    "namespace": NAMESPACE}]


def test_operator_values_enable_raycronjob():
    values = yaml.safe_load((KUBERAY / "kuberay-operator-values.yaml").read_text())
    gates = {g["name"]: g["enabled"] for g in values["featureGates"]}
    assert len(gates) == len(values["featureGates"])
    assert gates["RayCronJob"] is True and gates["RayJobDeletionPolicy"] is True


# ---------------------------------------------------------------------------------------------
# schedules: one night, one time, everywhere

def crontab_job_lines() -> list[str]:
    lines = (CLUSTER / "cron" / "raydeval-nightly.cron").read_text().splitlines()
    lines = [ln for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    env = [ln for ln in lines if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", ln)]
    return [ln for ln in lines if ln not in env]


def schedules() -> dict[str, tuple[str, str | None]]:
    cron = one("CronJob", "cronjob-nightly-sweep.yaml")["spec"]
    ray_cron = one("RayCronJob", "raycronjob-nightly-sweep.yaml")["spec"]
    (line,) = crontab_job_lines()
    return {"CronJob": (cron["schedule"], cron.get("timeZone")),
            "RayCronJob": (ray_cron["schedule"], ray_cron.get("timeZone")),
            "crontab": (" ".join(line.split()[:5]), "UTC")}


def test_schedules_are_valid_and_agree():
    found = schedules()
    for where, (expr, tz) in found.items():
        assert cron_errors(expr) == [], where
        assert "TZ" not in expr  # time zones go in timeZone, not CRON_TZ= in the schedule
        if tz is not None:
            assert tz in ("UTC", "Etc/UTC") and zoneinfo.ZoneInfo(tz)
    assert len({expr for expr, _ in found.values()}) == 1, found
    minute, hour, dom, month, dow = next(iter(found.values()))[0].split()
    assert (dom, month, dow) == ("*", "*", "*") and minute.isdigit() and hour.isdigit()  # once a night
    timer = unit("raydeval-nightly.timer")
    assert timer["Timer"]["OnCalendar"] == f"*-*-* {int(hour):02d}:{int(minute):02d}:00 UTC"


def test_crontab_line_runs_the_sweep_with_a_lock_and_a_log():
    text = (CLUSTER / "cron" / "raydeval-nightly.cron").read_text()
    assert "CRON_TZ=UTC" in text.splitlines()
    (line,) = crontab_job_lines()
    command = line.split(None, 5)[5]
    assert re.search(r"(?<!\\)%", command) is None, "an unescaped % ends the command in a crontab"
    assert "flock -n" in command and re.search(r">>\s*\S+\.log", command) and "2>&1" in command
    (sweep,) = re.findall(r"\S*raydeval sweep [^;']*", command.replace("\\%", "%"))
    args = parse_raydeval(sweep.strip())
    assert args.command == "sweep" and args.file == "jobs/nightly.toml" and args.history.startswith("s3://")


# ---------------------------------------------------------------------------------------------
# systemd

def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in systemd
    parser.read_string((CLUSTER / "systemd" / name).read_text())
    return parser


def test_systemd_units():
    service, timer = unit("raydeval-nightly.service"), unit("raydeval-nightly.timer")
    assert service["Service"]["Type"] == "oneshot"  # the timer cannot start a second run meanwhile
    assert service["Service"]["PrivateTmp"] == "true"  # Ray's session folders go with the run
    args = parse_raydeval(service["Service"]["ExecStart"])
    assert args.command == "sweep" and args.file == "jobs/nightly.toml" and args.history.startswith("s3://")
    assert os.path.isabs(shlex.split(service["Service"]["ExecStart"])[0])
    assert timer["Timer"]["OnCalendar"] and timer["Timer"]["Persistent"] == "true"
    assert timer["Timer"]["Unit"] == "raydeval-nightly.service"
    assert (CLUSTER / "systemd" / timer["Timer"]["Unit"]).is_file()
    assert timer["Install"]["WantedBy"] == "timers.target"


# ---------------------------------------------------------------------------------------------
# Ray cluster launcher

def launcher_config() -> dict:
    return yaml.safe_load((CLUSTER / "ray-cluster.yaml").read_text())


def test_launcher_config_validates_against_rays_schema():
    import jsonschema  # a dependency of ray[default]
    import ray
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = launcher_config()
    schema = json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)
    validate_config(prepare_config(copy.deepcopy(config)))  # what `ray up` checks before launching


def test_launcher_config_installs_raydeval_on_head_and_workers():
    config = launcher_config()
    types = config["available_node_types"]
    head = config["head_node_type"]
    workers = [t for t in types if t != head]
    assert head in types and workers
    assert config["file_mounts"]["~/raydeval-src"] == "."

    def installs(commands: list[str], extra: str = "") -> bool:
        return any(re.search(r"pip install .*\$HOME/raydeval-src" + re.escape(extra) + '"', c) for c in commands)

    assert installs(config["setup_commands"])  # every node, unless its type has its own list
    for t in workers:
        own = types[t].get("worker_setup_commands")
        if own is not None:
            assert installs(own, "[gpu]" if "gpu" in t else "")
    # token authentication: one token for all nodes, Ray started in token mode
    assert config["file_mounts"]["~/.ray/auth_token"] == "~/.ray/auth_token"
    for cmd in config["head_start_ray_commands"] + config["worker_start_ray_commands"]:
        assert "RAY_AUTH_MODE=token ray start" in cmd or cmd == "ray stop"
    ray_version = dockerfile_ray_version()
    images = [config["docker"]["image"]] + [t["docker"]["worker_image"] for t in types.values() if "docker" in t]
    assert all(i.startswith(f"rayproject/ray:{ray_version}-") for i in images)


# ---------------------------------------------------------------------------------------------
# Dockerfile

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    out, pending = [], ""
    for line in (CLUSTER / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or (not line.strip() and not pending):
            continue
        pending += line.rstrip().removesuffix("\\") + " "
        if not line.rstrip().endswith("\\"):
            instr, _, rest = pending.strip().partition(" ")
            out.append((instr.upper(), " ".join(rest.split())))
            pending = ""
    assert not pending
    return out


def dockerfile_ray_version() -> str:
    (base,) = [rest for instr, rest in dockerfile() if instr == "ARG" and rest.startswith("BASE_IMAGE=")]
    m = re.fullmatch(r"BASE_IMAGE=rayproject/ray:(\d+\.\d+\.\d+)-py3\d+-cpu", base)
    assert m, base
    return m.group(1)


def docker_ignored(path: str, patterns: list[str]) -> bool:
    """.dockerignore semantics: the last pattern matching the path or a folder above it wins."""
    def regex(pattern: str) -> re.Pattern:
        out = re.escape(pattern.strip("/")).replace(r"\*\*/", "(.*/)?")
        return re.compile(out.replace(r"\*", "[^/]*").replace(r"\?", "[^/]"))

    parts = path.split("/")
    ignored = False
    for pat in patterns:
        negate = pat.startswith("!")
        rx = regex(pat[1:] if negate else pat)
        if any(rx.fullmatch("/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            ignored = not negate
    return ignored


def test_dockerfile_installs_raydeval_with_extras():
    instrs = dockerfile()
    first = next(i for i, (instr, _) in enumerate(instrs) if instr != "ARG")
    assert instrs[first][0] == "FROM" and "${BASE_IMAGE}" in instrs[first][1]
    last_from = max(i for i, (instr, _) in enumerate(instrs) if instr == "FROM")
    after = instrs[last_from + 1:]
    # an ARG declared before FROM is not visible in RUN: EXTRAS must be declared after it
    assert any(instr == "ARG" and re.fullmatch(r'EXTRAS(=.*)?', rest) for instr, rest in after)
    (install,) = [rest for instr, rest in after if instr == "RUN" and "pip install" in rest]
    assert re.search(r'"/tmp/raydeval-src\$\{EXTRAS:\+\[\$\{EXTRAS\}\]\}"', install)
    copies = [rest.split() for instr, rest in after if instr == "COPY"]
    dests = {c[-1].rstrip("/") for c in copies}
    assert {"/tmp/raydeval-src", "/tmp/raydeval-src/raydeval"} <= dests
    sources = [s for c in copies for s in c[:-1] if not s.startswith("--")]
    assert set(sources) == {"pyproject.toml", "README.md", "raydeval"}
    patterns = [ln.strip() for ln in (CLUSTER / "Dockerfile.dockerignore").read_text().splitlines()
                if ln.strip() and not ln.startswith("#")]
    for src in sources:
        assert (ROOT / src).exists()
        assert not docker_ignored(src, patterns), src
    assert not docker_ignored("raydeval/cli/__init__.py", patterns)
    for left_out in (".git/config", "tests/test_cli.py", "bench/x", "raydeval/__pycache__/x.pyc",
                     "cluster/Dockerfile"):
        assert docker_ignored(left_out, patterns), left_out


# ---------------------------------------------------------------------------------------------
# no credentials, documentation

SECRET_PATTERNS = [
    re.compile(r"(?<![A-Z0-9])(AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])"),
    re.compile(r"(?i)aws_?secret_?access_?key\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])"),
    re.compile(r"(?i)aws_?session_?token\s*[=:]\s*['\"]?[A-Za-z0-9/+=]{16,}"),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]


def test_no_file_holds_a_credential():
    files = [f for f in CLUSTER.rglob("*") if f.is_file()] + list((ROOT / "tests" / "data").glob("kuberay-*"))
    for f in files:
        text = f.read_text(errors="replace")
        for pat in SECRET_PATTERNS:
            assert not pat.search(text), f"{f.relative_to(ROOT)} looks like it holds a credential ({pat.pattern})"
    for name, d in kuberay_docs():
        assert d["kind"] != "Secret", name


def test_secret_patterns_catch_keys():
    fake_id = "AKIA" + "Q" * 16
    fake_secret = "aws_secret_access_key = " + "x/Y+" * 10
    assert SECRET_PATTERNS[0].search(fake_id) and SECRET_PATTERNS[1].search(fake_secret)
    assert not SECRET_PATTERNS[1].search("AWS_SECRET_ACCESS_KEY=...")


def test_readme_covers_every_file():
    readme = (CLUSTER / "README.md").read_text()
    assert KUBERAY_VERSION in readme and "statically" in readme
    for f in CLUSTER.rglob("*"):
        if f.is_file() and f.name != "README.md":
            assert f.name in readme, f"cluster/README.md does not mention {f.relative_to(CLUSTER)}"
