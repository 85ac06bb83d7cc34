/** True for a parsed JSON object (not null, not an array): the only kind of value whose members a parser reads. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
