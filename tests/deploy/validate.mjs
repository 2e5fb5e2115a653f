// Validates Kubernetes manifests against the Kubernetes OpenAPI schemas, for tests/integration/test_deploy.py.
//
//   node tests/deploy/validate.mjs MODULES_DIR INPUT.json
//
// INPUT.json is a list of {"source": "...", "doc": {...}} (the test has already parsed the YAML and rendered the
// kustomizations). Prints a JSON list of {"source", "kind", "name", "errors": [...]} to stdout, one per document.
//
// Two checks per document, both must be clean:
//  1. schema: kubernetes-models' validators, which are compiled from the Kubernetes OpenAPI definitions (types,
//     enums, required fields, formats) — core and apps/rbac/storage/policy/... groups, and the Prometheus
//     Operator's CRDs for ServiceMonitor. Kinds neither package has (snapshot.storage.k8s.io) are checked with
//     ajv against a JSON schema in tests/deploy/schemas/ (tests/deploy/README.md).
//  2. strict: no unknown field anywhere (the API server would drop or reject it: a misspelt
//     "mountPropogation" is silently ignored, which kubectl --validate=strict and kubeconform -strict catch).
//     The schema validators allow extra properties, so the field names are taken from the TypeScript
//     declarations the same package ships, through the TypeScript compiler's type checker.
// A document whose apiVersion/kind has no schema is an error, never a pass.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL, fileURLToPath } from "node:url";

const [modulesDir, inputPath] = process.argv.slice(2);
if (!modulesDir || !inputPath) {
  console.error("usage: validate.mjs MODULES_DIR INPUT.json");
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(path.resolve(modulesDir), "noop.js"));
const ts = require("typescript");
const Ajv = require("ajv").default;

// apiVersion "apps/v1" + kind → the model's .js and .d.ts, in kubernetes-models or a CRD package.
function modelFiles(apiVersion, kind) {
  const gv = apiVersion.includes("/") ? apiVersion : `v1`; // core group: kubernetes-models/v1/<Kind>
  const pkgs = ["kubernetes-models", "@kubernetes-models/prometheus-operator"];
  for (const pkg of pkgs) {
    const base = path.join(path.resolve(modulesDir), pkg, gv, kind);
    if (fs.existsSync(base + ".js") && fs.existsSync(base + ".d.ts")) return { js: base + ".js", dts: base + ".d.ts" };
  }
  return null;
}

function localSchema(apiVersion, kind) {
  const f = path.join(here, "schemas", `${apiVersion.replace("/", "_")}_${kind}.json`);
  return fs.existsSync(f) ? f : null;
}

// ---- strict: unknown fields, from the declared interface I<Kind> ------------------------------------------
let checker = null;
const declared = new Map(); // dts → ts.Type of I<Kind>

function buildChecker(dtsFiles) {
  const prog = ts.createProgram(dtsFiles, {
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    target: ts.ScriptTarget.ES2022,
    types: [],
  });
  checker = prog.getTypeChecker();
  for (const f of dtsFiles) {
    const sf = prog.getSourceFile(f);
    const mod = sf && checker.getSymbolAtLocation(sf);
    if (!mod) continue;
    const kind = path.basename(f, ".d.ts");
    const sym = checker.getExportsOfModule(mod).find((s) => s.name === `I${kind}`);
    if (sym) declared.set(f, checker.getDeclaredTypeOfSymbol(sym));
  }
}

function objectPart(type) {
  type = checker.getNonNullableType(type);
  if (type.isUnion()) {
    const objs = type.types.filter((t) => t.getFlags() & ts.TypeFlags.Object);
    return objs.length === 1 ? objs[0] : null; // several object shapes, or none: nothing to say
  }
  return type.getFlags() & ts.TypeFlags.Object ? type : null;
}

function strictWalk(type, value, where, errors) {
  if (value === null || typeof value !== "object") return;
  const t = objectPart(type);
  if (!t) return;
  if (Array.isArray(value)) {
    if (checker.isArrayType(t)) {
      const el = checker.getTypeArguments(t)[0];
      value.forEach((v, i) => strictWalk(el, v, `${where}/${i}`, errors));
    }
    return;
  }
  const index = checker.getIndexInfoOfType(t, ts.IndexKind.String);
  for (const [k, v] of Object.entries(value)) {
    const prop = checker.getPropertyOfType(t, k);
    if (prop) strictWalk(checker.getTypeOfSymbol(prop), v, `${where}/${k}`, errors);
    else if (index) strictWalk(index.type, v, `${where}/${k}`, errors);
    else errors.push(`${where || "/"}: unknown field "${k}"`);
  }
}

// ---- main --------------------------------------------------------------------------------------------------
const input = JSON.parse(fs.readFileSync(inputPath, "utf8"));
const plans = input.map(({ source, doc }) => {
  const apiVersion = doc && doc.apiVersion, kind = doc && doc.kind;
  const name = doc && doc.metadata && doc.metadata.name;
  if (typeof apiVersion !== "string" || typeof kind !== "string")
    return { source, kind, name, fatal: "document has no apiVersion/kind" };
  const model = modelFiles(apiVersion, kind);
  if (model) return { source, kind, name, doc, model };
  const schema = localSchema(apiVersion, kind);
  if (schema) return { source, kind, name, doc, schema };
  return { source, kind, name, fatal: `no schema for ${apiVersion} ${kind}: add one (tests/deploy/schemas/) or a package` };
});

buildChecker([...new Set(plans.filter((p) => p.model).map((p) => p.model.dts))]);
const ajv = new Ajv({ allErrors: true, strict: false });
const results = [];
for (const p of plans) {
  const r = { source: p.source, kind: p.kind, name: p.name, errors: [] };
  results.push(r);
  if (p.fatal) {
    r.errors.push(p.fatal);
    continue;
  }
  if (p.model) {
    const mod = await import(pathToFileURL(p.model.js).href);
    const Model = mod[p.kind];
    try {
      new Model(JSON.parse(JSON.stringify(p.doc))).validate();
    } catch (e) {
      r.errors.push(...String(e && e.message ? e.message : e).split(/,\s*(?=data\/)/).map((s) => `schema: ${s}`));
    }
    const t = declared.get(p.model.dts);
    if (!t) r.errors.push(`strict: no declared interface I${p.kind} in ${p.model.dts}`);
    else strictWalk(t, p.doc, "", r.errors);
  } else {
    const validate = ajv.compile(JSON.parse(fs.readFileSync(p.schema, "utf8")));
    if (!validate(p.doc))
      for (const e of validate.errors)
        r.errors.push(e.keyword === "additionalProperties"
          ? `${e.instancePath || "/"}: unknown field "${e.params.additionalProperty}"`
          : `schema: ${e.instancePath || "/"} ${e.message}`);
  }
}
process.stdout.write(JSON.stringify(results, null, 1) + "\n");
