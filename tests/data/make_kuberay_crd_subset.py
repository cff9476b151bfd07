"""Write tests/data/kuberay-v1.7.0-crd-subset.json from the KubeRay CRDs.

    git clone https://github.com/ray-project/kuberay /tmp/kuberay
    python tests/data/make_kuberay_crd_subset.py /tmp/kuberay [--tag v1.7.0]

The CRDs (ray-operator/config/crd/bases/ray.io_{rayclusters,rayjobs,raycronjobs}.yaml at the
tag) are cut to the fields that the manifests in cluster/kuberay use: every node on such a path
keeps type, required, enum, bounds, pattern and the names and types of all its fields; a field
nobody uses keeps its name and type and is marked "x-trimmed" when it had fields of its own.
Descriptions are left out. The shared Go types that the CRDs inline at several places
(RayClusterSpec, RayJobSpec, PodTemplateSpec) are stored once under "$defs" and referenced as
{"$ref": NAME}, after checking that the inlined copies are identical.
Run it again after adding fields to the manifests or moving to another KubeRay version.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CRDS = {
    "RayCluster": "ray.io_rayclusters.yaml",
    "RayJob": "ray.io_rayjobs.yaml",
    "RayCronJob": "ray.io_raycronjobs.yaml",
}
KEEP = ("type", "required", "enum", "format", "minimum", "maximum", "minLength", "maxLength",
        "pattern", "minItems", "maxItems", "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields", "nullable")
# where a shared type is inlined (path from a kind or a def) -> the def's name
REFS = {
    ("RayCluster", "spec"): "RayClusterSpec",
    ("RayJob", "spec"): "RayJobSpec",
    ("RayCronJob", "spec", "jobTemplate"): "RayJobSpec",
    ("RayJobSpec", "rayClusterSpec"): "RayClusterSpec",
    ("RayClusterSpec", "headGroupSpec", "template"): "PodTemplateSpec",
    ("RayClusterSpec", "workerGroupSpecs", "[]", "template"): "PodTemplateSpec",
}
DEF_HOME = {
    "RayClusterSpec": ("RayCluster", "spec"),
    "RayJobSpec": ("RayJob", "spec"),
    "PodTemplateSpec": ("RayCluster", "spec", "headGroupSpec", "template"),
}


def canon(path: tuple) -> tuple:
    """The path rewritten to start at the innermost shared type it passes through."""
    done = False
    while not done:
        done = True
        for pre, name in sorted(REFS.items(), key=lambda kv: -len(kv[0])):
            if path[:len(pre)] == pre:
                path, done = (name,) + path[len(pre):], False
                break
    return path


def kuberay_objects() -> list[dict]:
    """The ray.io objects of cluster/kuberay, with the RayJob a ConfigMap carries."""
    out = []
    for f in sorted((ROOT / "cluster" / "kuberay").glob("*.yaml")):
        for d in yaml.safe_load_all(f.read_text()):
            if not isinstance(d, dict):
                continue
            if d.get("kind") == "ConfigMap":
                for text in d.get("data", {}).values():
                    inner = yaml.safe_load(text)
                    if isinstance(inner, dict) and str(inner.get("apiVersion", "")).startswith("ray.io/"):
                        out.append(inner)
            elif str(d.get("apiVersion", "")).startswith("ray.io/"):
                out.append(d)
    return out


def used_paths(node, path: tuple, acc: set) -> None:
    acc.add(canon(path))
    if isinstance(node, dict):
        for k, v in node.items():
            used_paths(v, path + (k,), acc)
    elif isinstance(node, list):
        for v in node:
            used_paths(v, path + ("[]",), acc)


def strip(s):
    if isinstance(s, dict):
        return {k: strip(v) for k, v in s.items() if k != "description"}
    if isinstance(s, list):
        return [strip(v) for v in s]
    return s


def at(schema: dict, path: tuple) -> dict:
    for p in path:
        schema = schema["items"] if p == "[]" else schema["properties"][p]
    return schema


def leaf(s: dict) -> dict:
    r = {k: s[k] for k in ("type", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields") if k in s}
    if "anyOf" in s:
        r["anyOf"] = [{k: v for k, v in a.items() if k == "type"} for a in s["anyOf"]]
    if any(k in s for k in ("properties", "items", "additionalProperties")):
        r["x-trimmed"] = True
    return r


def trim(s: dict, path: tuple, used: set) -> dict:
    if path in REFS:
        return {"$ref": REFS[path]}
    r = {k: s[k] for k in KEEP if k in s}
    if "anyOf" in s:
        r["anyOf"] = [{k: v for k, v in a.items() if k in KEEP} for a in s["anyOf"]]
    props = s.get("properties", {})
    if props:
        r["properties"] = {
            k: trim(v, path + (k,), used) if (path + (k,) in used or path + (k,) in REFS) else leaf(v)
            for k, v in props.items()
        }
    ap = s.get("additionalProperties")
    if isinstance(ap, dict):
        below = {p[len(path) + 1:] for p in used
                 if len(p) > len(path) and p[:len(path)] == path and p[len(path)] not in props}
        if below:
            r["additionalProperties"] = trim(ap, path + ("*",), used | {path + ("*",) + b for b in below})
        else:
            r["additionalProperties"] = leaf(ap)
    elif ap is not None:
        r["additionalProperties"] = ap
    if "items" in s:
        r["items"] = trim(s["items"], path + ("[]",), used) if path + ("[]",) in used else leaf(s["items"])
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("kuberay", help="a git clone of github.com/ray-project/kuberay")
    ap.add_argument("--tag", default="v1.7.0")
    args = ap.parse_args()
    git = ["git", "-C", args.kuberay]
    commit = subprocess.check_output(git + ["rev-parse", args.tag + "^{commit}"], text=True).strip()
    raw = {}
    for kind, fn in CRDS.items():
        text = subprocess.check_output(git + ["show", f"{args.tag}:ray-operator/config/crd/bases/{fn}"])
        crd = yaml.safe_load(text)
        version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
        raw[kind] = (crd, strip(version["schema"]["openAPIV3Schema"]))

    def home_schema(name: str) -> dict:
        kind, *rest = DEF_HOME[name]
        return at(raw[kind][1], tuple(rest))

    for where, name in REFS.items():
        start = raw[where[0]][1] if where[0] in raw else home_schema(where[0])
        if at(start, where[1:]) != home_schema(name):
            raise SystemExit(f"{'.'.join(where)} differs from {name}; cannot share it")

    used: set = set()
    for obj in kuberay_objects():
        used_paths(obj, (obj["kind"],), used)
    out = {
        "_source": {
            "repository": "https://github.com/ray-project/kuberay",
            "tag": args.tag,
            "commit": commit,
            "files": {k: "ray-operator/config/crd/bases/" + v for k, v in CRDS.items()},
            "made_by": "tests/data/make_kuberay_crd_subset.py",
        },
        "$defs": {name: trim(home_schema(name), (name,), used) for name in DEF_HOME},
    }
    for kind, (crd, schema) in raw.items():
        out[kind] = {
            "group": crd["spec"]["group"],
            "version": "v1",
            "plural": crd["spec"]["names"]["plural"],
            "openAPIV3Schema": trim(schema, (kind,), used),
        }
    dest = ROOT / "tests" / "data" / f"kuberay-{args.tag}-crd-subset.json"
    dest.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {dest.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
