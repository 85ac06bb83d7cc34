// Resolve hook for refuse-imports.mjs: a refused package (or one of its subpaths) fails to resolve.
let refused = [];

export function initialize(data) {
  refused = data.refused;
}

export function resolve(specifier, context, next) {
  if (refused.some((name) => specifier === name || specifier.startsWith(`${name}/`))) throw new Error(`refused import: ${specifier}`);
  return next(specifier, context);
}
