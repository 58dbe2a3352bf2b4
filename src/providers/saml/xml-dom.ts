// The slice of the W3C DOM that @xmldom/xmldom provides and the SAML code uses, typed here instead of
// through xmldom's own declarations: those pull TypeScript's whole "dom" lib into the program, whose
// browser fetch types clash with Node's. The libraries are loaded with require() for the same reason.
import { createRequire } from 'node:module';

export interface XmlAttr {
  readonly name: string;
  readonly localName: string | null;
  readonly value: string;
}

export interface XmlNode {
  readonly nodeType: number;
  readonly nodeName: string;
  readonly nodeValue: string | null;
  readonly parentNode: XmlNode | null;
  /** null on text-like nodes in xmldom 0.8. */
  readonly childNodes: ArrayLike<XmlNode> | null;
  readonly ownerDocument: XmlDocument | null;
  toString(): string;
}

export interface XmlElement extends XmlNode {
  readonly namespaceURI: string | null;
  readonly localName: string;
  readonly attributes: ArrayLike<XmlAttr>;
  hasAttribute(name: string): boolean;
  getAttribute(name: string): string | null;
  getAttributeNS(namespace: string, localName: string): string | null;
}

export interface XmlDocument extends XmlNode {
  readonly documentElement: XmlElement | null;
}

interface XmldomModule {
  DOMParser: new (options?: {
    errorHandler?: {
      warning?: (message: unknown) => void;
      error?: (message: unknown) => void;
      fatalError?: (message: unknown) => void;
    };
  }) => { parseFromString(xml: string, mimeType: string): XmlDocument };
}

export const requireCjs = createRequire(import.meta.url);
export const xmldom = requireCjs('@xmldom/xmldom') as XmldomModule;
