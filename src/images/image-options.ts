/** Longest prompt GPT image models accept, in characters (Unicode code points). */
export const MAX_PROMPT_CHARS = 32_000;

/** gpt-image-2 size rule: both sides are multiples of this many pixels. */
export const SIZE_MULTIPLE_PX = 16;
/** gpt-image-2 size rule: the longest side is at most this many pixels (3840x2160 is the maximum). */
export const MAX_SIZE_SIDE_PX = 3840;
/** gpt-image-2 size rule: long side / short side is at most this (3:1 either way). */
export const MAX_SIZE_ASPECT_RATIO = 3;
/** gpt-image-2 size rule: fewest total pixels (1024x640), inclusive. */
export const MIN_SIZE_PIXELS = 655_360;
/** gpt-image-2 size rule: most total pixels (3840x2160), inclusive. */
export const MAX_SIZE_PIXELS = 8_294_400;

/** The size rule in words, for the error message (built from the constants above). */
export const SIZE_RULE_TEXT =
  `use auto or WxH with sides multiple of ${SIZE_MULTIPLE_PX}, longest side at most ${MAX_SIZE_SIDE_PX}, ` +
  `aspect ratio at most ${MAX_SIZE_ASPECT_RATIO}:1, ${MIN_SIZE_PIXELS}..${MAX_SIZE_PIXELS} pixels`;

/** Plain decimal sides without signs or leading zeros; five digits is already far past the maximum. */
const SIZE_PATTERN = /^([1-9]\d{0,4})x([1-9]\d{0,4})$/;

/**
 * True when `size` is `auto` or a `WxH` gpt-image-2 accepts: both sides multiples of 16, longest
 * side <= 3840, aspect ratio <= 3:1 either way, 655,360..8,294,400 pixels inclusive. Lower-case
 * `x` only, no spaces: the string is forwarded upstream as is.
 */
export function isValidImageSize(size: string): boolean {
  if (size === 'auto') return true;
  const match = SIZE_PATTERN.exec(size);
  if (match === null) return false;
  const width = Number(match[1]);
  const height = Number(match[2]);
  const longPx = Math.max(width, height);
  const shortPx = Math.min(width, height);
  const pixels = width * height;
  return (
    width % SIZE_MULTIPLE_PX === 0 &&
    height % SIZE_MULTIPLE_PX === 0 &&
    longPx <= MAX_SIZE_SIDE_PX &&
    longPx <= shortPx * MAX_SIZE_ASPECT_RATIO &&
    pixels >= MIN_SIZE_PIXELS &&
    pixels <= MAX_SIZE_PIXELS
  );
}
