#!/usr/bin/env node
// Validates Kubernetes manifests (multi-document YAML, e.g. `helm template` output) offline, the way
// the API server and `kubectl apply` (strict field validation) would judge them:
//   1. YAML 1.1 parsing, as Kubernetes does (`on`, `yes` are booleans there); duplicate keys refused.
//   2. Every built-in kind against its OpenAPI schema, with kubernetes-models' `validate()`
//      (types, required fields, enums, formats).
//   3. Unknown fields (a misspelt `readOnlyRootFilesytem` would otherwise be dropped silently),
//      checked against the same models' type declarations, read with the TypeScript compiler.
//   4. Across the objects: names, duplicates, Deployment selectors matching their pod template, and
//      Service / PodDisruptionBudget / NetworkPolicy selectors and HPA targets that find a workload.
// Custom resources (Traefik's Middleware, ...) have no schema in kubernetes-models: their groups are
// listed below, and they are skipped with a note. Any other unknown apiVersion is an error.
//
// Usage: node scripts/validate-k8s.mjs [FILE ...]     (no FILE, or '-': standard input)
// Needs the devDependency kubernetes-models@4.5.1 (and typescript, yaml). Exit 0 when all valid.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';

const require = createRequire(import.meta.url);

/** API groups of custom resources we render on purpose; kubernetes-models has no schema for them. */
const CRD_GROUPS = new Set(['traefik.io', 'traefik.containo.us']);
/** Kinds whose pod template the cross-object checks look at. */
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Kinds whose names end up in DNS labels (Service names become host names). */
const LABEL_NAMED_KINDS = new Set(['Service', 'Namespace']);

function loadModels() {
  try {
    require.resolve('kubernetes-models/package.json');
  } catch {
    console.error(
      'validate-k8s: the package kubernetes-models is not installed. Add it as a devDependency:\n' +
        '  npm install --save-dev --save-exact kubernetes-models@4.5.1',
    );
    process.exit(2);
  }
  return require('typescript');
}

// ------------------------------------------------------------------------------------------------
// Unknown fields: a shape for each model type, read from kubernetes-models' .d.ts files.
//   { kind: 'object', props: Map<name, shape>, open: boolean }  open = also takes keys it does not list
//   { kind: 'array', of: shape } | { kind: 'map', of: shape } | { kind: 'leaf' } | { kind: 'ref', file }

function createShapeReader(ts) {
  const fileShapes = new Map();

  function declarationFileOf(specifier, fromFile) {
    if (specifier.startsWith('.')) return join(dirname(fromFile), `${specifier}.d.ts`);
    const resolved = createRequire(fromFile).resolve(specifier);
    return resolved.replace(/\.(c|m)?js$/, '.d.ts');
  }

  /** The shape of the (single) interface a model file declares; a leaf for type aliases. */
  function shapeOfFile(file) {
    const cached = fileShapes.get(file);
    if (cached) return cached;
    const placeholder = { kind: 'object', props: new Map(), open: true };
    fileShapes.set(file, placeholder); // recursive types (JSONSchemaProps) end here
    const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, false);
    const imports = new Map();
    let declaration = null;
    for (const statement of source.statements) {
      if (ts.isImportDeclaration(statement) && statement.importClause?.namedBindings) {
        const bindings = statement.importClause.namedBindings;
        if (ts.isNamedImports(bindings)) {
          for (const element of bindings.elements) {
            imports.set(element.name.text, declarationFileOf(statement.moduleSpecifier.text, file));
          }
        }
      } else if (ts.isInterfaceDeclaration(statement) && declaration === null) {
        declaration = statement;
      }
    }
    const shape = declaration === null ? { kind: 'leaf' } : shapeOfMembers(declaration.members, imports);
    fileShapes.set(file, shape);
    return shape;
  }

  function shapeOfMembers(members, imports) {
    const props = new Map();
    let open = members.length === 0;
    for (const member of members) {
      if (ts.isPropertySignature(member) && member.type) {
        const name =
          ts.isStringLiteral(member.name) || ts.isIdentifier(member.name) ? member.name.text : null;
        if (name !== null) props.set(name, shapeOfType(member.type, imports));
      } else if (ts.isIndexSignatureDeclaration(member)) {
        if (props.size === 0 && members.length === 1)
          return { kind: 'map', of: shapeOfType(member.type, imports) };
        open = true;
      }
    }
    return { kind: 'object', props, open };
  }

  function shapeOfType(node, imports) {
    if (ts.isTypeReferenceNode(node)) {
      const text = ts.isIdentifier(node.typeName) ? node.typeName.text : node.typeName.right.text;
      if (text === 'Array' && node.typeArguments?.length === 1) {
        return { kind: 'array', of: shapeOfType(node.typeArguments[0], imports) };
      }
      const file = imports.get(text);
      return file === undefined ? { kind: 'leaf' } : { kind: 'ref', file };
    }
    if (ts.isArrayTypeNode(node)) return { kind: 'array', of: shapeOfType(node.elementType, imports) };
    if (ts.isTypeLiteralNode(node)) return shapeOfMembers(node.members, imports);
    if (ts.isParenthesizedTypeNode(node)) return shapeOfType(node.type, imports);
    return { kind: 'leaf' }; // keywords, literal unions, indexed access ("apps/v1"), ...
  }

  function resolve(shape) {
    return shape.kind === 'ref' ? shapeOfFile(shape.file) : shape;
  }

  /** Paths of keys the shape does not know, e.g. spec.template.spec.containers[0].bogus. */
  function unknownFields(value, shape, path, found) {
    const resolved = resolve(shape);
    if (value === null || typeof value !== 'object') return found;
    if (resolved.kind === 'array' && Array.isArray(value)) {
      value.forEach((item, index) => unknownFields(item, resolved.of, `${path}[${index}]`, found));
    } else if (resolved.kind === 'map' && !Array.isArray(value)) {
      for (const [key, item] of Object.entries(value))
        unknownFields(item, resolved.of, `${path}.${key}`, found);
    } else if (resolved.kind === 'object' && !Array.isArray(value)) {
      for (const [key, item] of Object.entries(value)) {
        const child = resolved.props.get(key);
        const at = path === '' ? key : `${path}.${key}`;
        if (child === undefined) {
          if (!resolved.open) found.push(at);
        } else {
          unknownFields(item, child, at, found);
        }
      }
    }
    return found;
  }

  return {
    unknownFields(document, modelFile) {
      return unknownFields(document, { kind: 'ref', file: modelFile }, '', []);
    },
  };
}

// ------------------------------------------------------------------------------------------------

/** kubernetes-models/v1 for the core group, kubernetes-models/apps/v1 for apps/v1, ... */
function modelModuleOf(apiVersion) {
  return `kubernetes-models/${apiVersion}`;
}

function groupOf(apiVersion) {
  const slash = apiVersion.indexOf('/');
  return slash === -1 ? '' : apiVersion.slice(0, slash);
}

function describe(doc) {
  const namespace = doc.metadata?.namespace ? `${doc.metadata.namespace}/` : '';
  return `${doc.kind ?? '?'} ${namespace}${doc.metadata?.name ?? '?'}`;
}

function readInputs(args) {
  const files = args.length === 0 ? ['-'] : args;
  return files.map((file) => ({
    name: file === '-' ? '<stdin>' : file,
    text: readFileSync(file === '-' ? 0 : file, 'utf8'),
  }));
}

function matches(selector, labels) {
  if (selector === null || typeof selector !== 'object') return false;
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

function podTemplatesOf(docs) {
  return docs
    .filter((doc) => WORKLOAD_KINDS.has(doc.kind))
    .map((doc) => ({ doc, labels: doc.spec?.template?.metadata?.labels ?? {} }));
}

/** Checks that need several objects: what the API server would refuse, or what would select nothing. */
function crossObjectProblems(docs) {
  const problems = [];
  const seen = new Set();
  for (const doc of docs) {
    const key = `${doc.apiVersion} ${doc.kind} ${doc.metadata?.namespace ?? ''}/${doc.metadata?.name}`;
    if (seen.has(key)) problems.push([doc, 'defined twice']);
    seen.add(key);
  }
  const templates = podTemplatesOf(docs);
  const selectsSomething = (namespace, selector) =>
    templates.some(
      ({ doc, labels }) => (doc.metadata?.namespace ?? '') === namespace && matches(selector, labels),
    );
  for (const doc of docs) {
    const namespace = doc.metadata?.namespace ?? '';
    if (WORKLOAD_KINDS.has(doc.kind) && doc.kind !== 'Job') {
      const selector = doc.spec?.selector?.matchLabels;
      if (!matches(selector, doc.spec?.template?.metadata?.labels ?? {})) {
        problems.push([doc, 'spec.selector.matchLabels does not match spec.template.metadata.labels']);
      }
    }
    if (doc.kind === 'Service' && doc.spec?.selector && !selectsSomething(namespace, doc.spec.selector)) {
      problems.push([doc, 'spec.selector matches no pod template rendered here']);
    }
    if (doc.kind === 'PodDisruptionBudget' && !selectsSomething(namespace, doc.spec?.selector?.matchLabels)) {
      problems.push([doc, 'spec.selector matches no pod template rendered here']);
    }
    if (doc.kind === 'NetworkPolicy') {
      const selector = doc.spec?.podSelector?.matchLabels;
      if (selector && Object.keys(selector).length > 0 && !selectsSomething(namespace, selector)) {
        problems.push([doc, 'spec.podSelector matches no pod template rendered here']);
      }
    }
    if (doc.kind === 'HorizontalPodAutoscaler') {
      const target = doc.spec?.scaleTargetRef ?? {};
      const found = docs.some(
        (other) =>
          other.kind === target.kind &&
          other.metadata?.name === target.name &&
          (other.metadata?.namespace ?? '') === namespace,
      );
      if (!found)
        problems.push([doc, `spec.scaleTargetRef ${target.kind}/${target.name} is not rendered here`]);
    }
  }
  return problems;
}

function main() {
  const ts = loadModels();
  const shapes = createShapeReader(ts);
  const docs = [];
  let errors = 0;
  let skipped = 0;
  const fail = (where, message) => {
    errors += 1;
    console.error(`  ✗ ${where}: ${message}`);
  };

  for (const input of readInputs(process.argv.slice(2))) {
    for (const [index, document] of parseAllDocuments(input.text, {
      version: '1.1',
      uniqueKeys: true,
    }).entries()) {
      const where = `${input.name} document ${index + 1}`;
      for (const problem of document.errors) fail(where, `YAML: ${problem.message.split('\n')[0]}`);
      if (document.errors.length > 0) continue;
      const doc = document.toJS();
      if (doc === null || doc === undefined) continue; // an empty document (a template that rendered nothing)
      if (typeof doc !== 'object' || Array.isArray(doc)) {
        fail(where, 'not a mapping');
        continue;
      }
      if (typeof doc.apiVersion !== 'string' || typeof doc.kind !== 'string') {
        fail(where, 'apiVersion and kind are required strings');
        continue;
      }
      const name = doc.metadata?.name;
      const label = `${where} (${describe(doc)})`;
      if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
        fail(label, 'metadata.name must be a DNS subdomain name (lowercase letters, digits, - and .)');
      } else if (LABEL_NAMED_KINDS.has(doc.kind) && (name.length > 63 || !DNS_LABEL.test(name))) {
        fail(label, 'metadata.name must be a DNS label (at most 63 lowercase letters, digits and -)');
      }

      if (CRD_GROUPS.has(groupOf(doc.apiVersion))) {
        skipped += 1;
        console.log(
          `  - ${label}: skipped, a custom resource (${doc.apiVersion}) that kubernetes-models has no schema for`,
        );
        docs.push(doc);
        continue;
      }
      let models;
      let modelFile;
      try {
        models = require(modelModuleOf(doc.apiVersion));
        modelFile = require.resolve(`${modelModuleOf(doc.apiVersion)}/${doc.kind}`).replace(/\.js$/, '.d.ts');
      } catch {
        fail(label, `unknown apiVersion/kind ${doc.apiVersion} ${doc.kind}`);
        continue;
      }
      const Model = models[doc.kind];
      if (typeof Model !== 'function') {
        fail(label, `unknown kind ${doc.kind} in ${doc.apiVersion}`);
        continue;
      }
      let valid = true;
      try {
        new Model(doc).validate();
      } catch (err) {
        valid = false;
        const details = Array.isArray(err.errors)
          ? err.errors.map(
              (e) =>
                `${e.instancePath || '/'} ${e.message}${e.params?.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : ''}`,
            )
          : [String(err.message ?? err)];
        for (const detail of details) fail(label, detail);
      }
      for (const path of shapes.unknownFields(doc, modelFile)) {
        valid = false;
        fail(label, `unknown field ${path}`);
      }
      if (valid) console.log(`  ✓ ${label}`);
      docs.push(doc);
    }
  }

  for (const [doc, message] of crossObjectProblems(docs)) fail(describe(doc), message);
  const checked = docs.length - skipped;
  console.log(
    `validate-k8s: ${checked} object(s) checked, ${skipped} custom resource(s) skipped, ${errors} problem(s)`,
  );
  if (docs.length === 0) {
    console.error('validate-k8s: no Kubernetes objects in the input');
    process.exit(1);
  }
  process.exit(errors === 0 ? 0 : 1);
}

main();
