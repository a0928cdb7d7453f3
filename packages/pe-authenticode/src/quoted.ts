/**
 * A string from a file (a section name, a time value), quoted for an error or finding message: JSON quoting, plus `\uHHHH` for what
 * JSON.stringify leaves raw but a terminal acts on or displays misleadingly (C1 controls, bidi
 * and other format characters, line/paragraph separators). Error messages reach terminals through
 * every caller's error printer, so they never carry these characters raw. Cut to `max` characters.
 */
export function quoted(value: unknown, max = 70): string {
  const s = typeof value === 'string' ? value.slice(0, max) : value;
  return (JSON.stringify(s) ?? String(s)).replace(
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu,
    (ch) => `\\u${(ch.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`,
  );
}
