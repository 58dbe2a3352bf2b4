// XML Schema validation of inbound SAML messages, the validator samlify requires before it reads a
// message: libxml2's xmllint compiled to WebAssembly (xmllint-wasm), against the OASIS SAML 2.0
// protocol and assertion schemas and the W3C XML Signature and Encryption schemas shipped in
// ./schemas. No Java, no native build, no network (the wasm file system holds only what we preload).
import { readFileSync } from 'node:fs';
import { validateXML, type XMLFileInfo } from 'xmllint-wasm';

/** The entry schema first; xmllint resolves the imports among the preloaded files by name. */
const SCHEMA_FILES = [
  'saml-schema-protocol-2.0.xsd',
  'saml-schema-assertion-2.0.xsd',
  'xmldsig-core-schema.xsd',
  'xenc-schema.xsd',
] as const;

/** Messages larger than this are refused before validation (a login response is a few kB). */
export const MAX_SAML_MESSAGE_BYTES = 256 * 1024;

export class SamlSchemaError extends Error {
  override readonly name = 'SamlSchemaError';
}

let schemas: XMLFileInfo[] | null = null;

function loadSchemas(): XMLFileInfo[] {
  schemas ??= SCHEMA_FILES.map((fileName) => ({
    fileName,
    contents: readFileSync(new URL(`./schemas/${fileName}`, import.meta.url), 'utf8'),
  }));
  return schemas;
}

/** Reads the schema files now, so a broken installation fails at start rather than at the first login. */
export function preloadSamlSchemas(): void {
  loadSchemas();
}

/**
 * Resolves when `xml` is a schema-valid SAML protocol message; rejects otherwise. A DOCTYPE is refused
 * outright: SAML forbids DTDs (saml-core §1.3), and entity expansion is how XXE and billion-laughs work.
 */
export async function validateSamlXml(xml: string): Promise<'valid'> {
  if (Buffer.byteLength(xml, 'utf8') > MAX_SAML_MESSAGE_BYTES) throw new SamlSchemaError('message too large');
  if (/<!DOCTYPE|<!ENTITY/i.test(xml))
    throw new SamlSchemaError('DOCTYPE or ENTITY declarations are not allowed');
  const [entry, ...imports] = loadSchemas();
  if (entry === undefined) throw new SamlSchemaError('no schemas loaded');
  const result = await validateXML({
    xml: [{ fileName: 'message.xml', contents: xml }],
    schema: [entry],
    preload: imports,
    // Belt and braces: xmllint-wasm has no network, and --nonet says so explicitly.
    modifyArguments: (args) => ['--nonet', ...args],
  });
  if (!result.valid) {
    const first = result.errors[0]?.message ?? 'invalid';
    throw new SamlSchemaError(`schema validation failed: ${first.slice(0, 300)}`);
  }
  return 'valid';
}
