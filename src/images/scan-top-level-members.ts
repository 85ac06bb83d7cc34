const BACKSLASH = 0x5c;
const WHITESPACE = /[ \t\n\r]*/y;
const STRUCTURAL = /["[\]{}]/g;
const SCALAR_END = /[ \t\n\r,\]}]/g;

const skipWhitespace = (text: string, from: number): number => {
  WHITESPACE.lastIndex = from;
  WHITESPACE.test(text);
  return WHITESPACE.lastIndex;
};

/** Index just past the string literal opening at `start`. Jumps quote to quote, so base64 costs one indexOf. */
function endOfString(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return text.length;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes += 1;
    if (backslashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Index just past the object or array opening at `start`. */
function endOfContainer(text: string, start: number): number {
  let depth = 0;
  STRUCTURAL.lastIndex = start;
  for (let match = STRUCTURAL.exec(text); match !== null; match = STRUCTURAL.exec(text)) {
    const char = match[0];
    if (char === '"') {
      STRUCTURAL.lastIndex = endOfString(text, match.index);
      continue;
    }
    depth += char === '{' || char === '[' ? 1 : -1;
    if (depth === 0) return match.index + 1;
  }
  return text.length;
}

function endOfValue(text: string, start: number): number {
  const first = text[start];
  if (first === '"') return endOfString(text, start);
  if (first === '{' || first === '[') return endOfContainer(text, start);
  SCALAR_END.lastIndex = start;
  return SCALAR_END.exec(text)?.index ?? text.length;
}

const decodeKey = (literal: string): string => (literal.includes('\\') ? String(JSON.parse(literal)) : literal.slice(1, -1));

/**
 * Finds the raw JSON text of the named top-level members of an object, e.g. `2.0` for `{"n": 2.0}`,
 * which JSON.parse would hide (it yields the integer 2). Keys are decoded (`"\u006e"` is `n`); a
 * repeated key reports its last value, as JSON.parse keeps. One pass, O(length): strings are skipped
 * with indexOf, so a 50 MB body of base64 costs a few scans. Meant for text JSON.parse already
 * accepted; on other input it stops early and returns what it found.
 */
export function scanTopLevelMembers(text: string, names: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  let at = skipWhitespace(text, 0);
  if (text[at] !== '{') return found;
  at = skipWhitespace(text, at + 1);
  while (text[at] === '"') {
    const keyEnd = endOfString(text, at);
    const key = decodeKey(text.slice(at, keyEnd));
    at = skipWhitespace(text, keyEnd);
    if (text[at] !== ':') break;
    const valueStart = skipWhitespace(text, at + 1);
    const valueEnd = endOfValue(text, valueStart);
    if (names.includes(key)) found.set(key, text.slice(valueStart, valueEnd));
    at = skipWhitespace(text, valueEnd);
    if (text[at] !== ',') break;
    at = skipWhitespace(text, at + 1);
  }
  return found;
}
