// Strict XML parsing and small DOM helpers for SAML messages and metadata. One parser for everything:
// @xmldom/xmldom, the same copy samlify and xml-crypto use, so the element the signature check
// resolved and the element these checks read come from the same parse rules (no parser differential).
import { xmldom, type XmlDocument, type XmlElement, type XmlNode } from './xml-dom.js';

export const SAML_NS = {
  protocol: 'urn:oasis:names:tc:SAML:2.0:protocol',
  assertion: 'urn:oasis:names:tc:SAML:2.0:assertion',
  metadata: 'urn:oasis:names:tc:SAML:2.0:metadata',
  dsig: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  xsi: 'http://www.w3.org/2001/XMLSchema-instance',
} as const;

const ELEMENT_NODE = 1;
const TEXT_NODE = 3;
const CDATA_SECTION_NODE = 4;
const PROCESSING_INSTRUCTION_NODE = 7;
const COMMENT_NODE = 8;
const DOCUMENT_TYPE_NODE = 10;

export class SamlXmlError extends Error {
  override readonly name = 'SamlXmlError';
}

/**
 * Parses `xml`, throwing on anything a SAML peer never sends: a DOCTYPE or entity declaration (XXE,
 * entity expansion), parser warnings or errors, processing instructions other than the XML
 * declaration, or no root element.
 */
export function parseStrictXml(xml: string): XmlDocument {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml))
    throw new SamlXmlError('DOCTYPE or ENTITY declarations are not allowed');
  const fail = (level: string) => (message: unknown) => {
    throw new SamlXmlError(`XML ${level}: ${String(message).split('\n')[0] ?? ''}`);
  };
  let doc: XmlDocument;
  try {
    doc = new xmldom.DOMParser({
      errorHandler: { warning: fail('warning'), error: fail('error'), fatalError: fail('fatal error') },
    }).parseFromString(xml, 'text/xml');
  } catch (err) {
    if (err instanceof SamlXmlError) throw err;
    throw new SamlXmlError(`XML not well-formed: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const node of childrenOf(doc)) {
    if (node.nodeType === DOCUMENT_TYPE_NODE) throw new SamlXmlError('DOCTYPE is not allowed');
    if (node.nodeType === PROCESSING_INSTRUCTION_NODE && node.nodeName.toLowerCase() !== 'xml') {
      throw new SamlXmlError('processing instructions are not allowed');
    }
  }
  if (doc.documentElement === null) throw new SamlXmlError('no root element');
  return doc;
}

export function childrenOf(node: XmlNode): XmlNode[] {
  return node.childNodes === null ? [] : Array.from(node.childNodes);
}

export function isElement(node: XmlNode): node is XmlElement {
  return node.nodeType === ELEMENT_NODE;
}

export function is(element: XmlElement, namespace: string, localName: string): boolean {
  return element.namespaceURI === namespace && element.localName === localName;
}

/** The element children of `parent` with this namespace and local name, in document order. */
export function childElements(parent: XmlElement, namespace: string, localName: string): XmlElement[] {
  return childrenOf(parent).filter(
    (node): node is XmlElement => isElement(node) && is(node, namespace, localName),
  );
}

/** Every element below `root` (not `root` itself), depth first in document order. */
export function descendants(root: XmlNode): XmlElement[] {
  const found: XmlElement[] = [];
  const stack: XmlNode[] = childrenOf(root).reverse();
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (!isElement(node)) continue;
    found.push(node);
    stack.push(...childrenOf(node).reverse());
  }
  return found;
}

/** Every element of the document, the root included. */
export function allElements(doc: XmlDocument): XmlElement[] {
  const root = doc.documentElement;
  return root === null ? [] : [root, ...descendants(root)];
}

/** True when a comment or processing instruction sits anywhere below `root`. */
export function hasCommentOrInstruction(root: XmlNode): boolean {
  const stack: XmlNode[] = childrenOf(root);
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.nodeType === COMMENT_NODE || node.nodeType === PROCESSING_INSTRUCTION_NODE) return true;
    stack.push(...childrenOf(node));
  }
  return false;
}

/**
 * The character data of an element that may hold only text: every text and CDATA child joined, so a
 * comment cannot cut a value short (`alice@example.com<!---->.evil.com` reads in full). Returns null
 * when the element holds anything else (an element, a comment, a processing instruction).
 */
export function textOnly(element: XmlElement): string | null {
  let text = '';
  for (const node of childrenOf(element)) {
    if (node.nodeType === TEXT_NODE || node.nodeType === CDATA_SECTION_NODE) text += node.nodeValue ?? '';
    else return null;
  }
  return text;
}

/** An attribute without a namespace; null when absent. */
export function attribute(element: XmlElement, name: string): string | null {
  return element.hasAttribute(name) ? element.getAttribute(name) : null;
}
