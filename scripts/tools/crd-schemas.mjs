#!/usr/bin/env node
// Turns CustomResourceDefinition YAML files into the JSON schemas `kubeconform -strict` reads, one
// per served version: OUT/<group>/<kind lowercase>_<version>.json (the layout of kubeconform's
// openapi2jsonschema, schema location "{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json").
// Strict as kubeconform's own converter: an object with declared properties refuses others unless
// the CRD marks it x-kubernetes-preserve-unknown-fields.
//   node scripts/tools/crd-schemas.mjs OUT crd.yaml...
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { parseAllDocuments } from 'yaml';

function strict(schema) {
  if (Array.isArray(schema)) return schema.map(strict);
  if (schema === null || typeof schema !== 'object') return schema;
  const out = Object.fromEntries(Object.entries(schema).map(([k, v]) => [k, strict(v)]));
  // `properties` itself is a map of names to schemas; recursing above already handled its values.
  if (out.properties && typeof out.properties === 'object' && !('additionalProperties' in out)
    && !out['x-kubernetes-preserve-unknown-fields']) {
    out.additionalProperties = false;
  }
  // int-or-string fields are declared without a type; accept both as the API server does.
  if (out['x-kubernetes-int-or-string'] && !out.anyOf && !out.oneOf) out.oneOf = [{ type: 'string' }, { type: 'integer' }];
  return out;
}

const [outDir, ...files] = process.argv.slice(2);
if (!outDir || files.length === 0) {
  process.stderr.write('usage: crd-schemas.mjs OUT_DIR CRD.yaml...\n');
  process.exit(2);
}
let written = 0;
for (const file of files) {
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = doc.toJS();
    if (crd?.kind !== 'CustomResourceDefinition') continue;
    const { group, names, versions } = crd.spec;
    for (const version of versions) {
      const schema = version.schema?.openAPIV3Schema;
      if (!schema) throw new Error(`${file}: ${names.kind} ${version.name} has no openAPIV3Schema`);
      const dir = path.join(outDir, group);
      mkdirSync(dir, { recursive: true });
      const target = path.join(dir, `${names.kind.toLowerCase()}_${version.name}.json`);
      writeFileSync(target, `${JSON.stringify(strict(schema), null, 1)}\n`);
      written += 1;
    }
  }
}
process.stdout.write(`crd-schemas: ${written} schemas in ${outDir}\n`);
