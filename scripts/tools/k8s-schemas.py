#!/usr/bin/env python3
"""Extracts the strict Kubernetes JSON schemas of one version from the kubernetes-validate wheel
(PyPI) into the layout kubeconform reads: OUT/<version>-standalone-strict/<kind>-<group>-<v>.json.

The wheel's schemas carry "$id": "https://kubernetes.io/api/..." and point at
"/api/_definitions.json#/...", which would make kubeconform fetch that URL. Without the $id and with
"_definitions.json#/..." the references resolve beside each file, offline.
    k8s-schemas.py WHEEL VERSION OUT     (VERSION like v1.34.0)
"""
import json
import sys
import zipfile
from pathlib import Path

wheel, version, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
prefix = f"kubernetes_validate/kubernetes-json-schema/{version}-local-strict/"
target = out / f"{version}-standalone-strict"
target.mkdir(parents=True, exist_ok=True)
count = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if not name.startswith(prefix) or not name.endswith(".json"):
            continue
        schema = json.loads(z.read(name).decode("utf-8").replace('"/api/_definitions.json#', '"_definitions.json#'))
        schema.pop("$id", None)
        (target / name[len(prefix):]).write_text(json.dumps(schema), encoding="utf-8")
        count += 1
if count < 100:
    sys.exit(f"k8s-schemas: only {count} schemas for {version} in {wheel}")
print(f"k8s-schemas: {count} schemas in {target}")
