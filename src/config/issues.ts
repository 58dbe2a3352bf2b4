// What a config check reports: a leaf module, so the section schemas and the cross-checks that
// collect their issues do not import each other.

export interface ConfigIssue {
  /** The key path as the user writes it, e.g. providers.0.clientSecret. */
  path: string;
  message: string;
}
