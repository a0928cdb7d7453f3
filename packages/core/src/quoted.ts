/**
 * A value taken from a file (a name, a section name, a time value), quoted for an error or finding
 * message: JSON quoting, plus `\uHHHH` escapes for what JSON.stringify leaves raw but a terminal
 * acts on or displays misleadingly — C1 controls, bidi and other format characters, line and
 * paragraph separators. Error messages reach terminals through every caller's error printer, so
 * they never carry these characters raw. Strings are cut to `max` UTF-16 units.
 *
 * Escapes are written per UTF-16 code unit: a character beyond U+FFFF (the tag characters of flag
 * emoji are format characters) becomes its surrogate pair `\udb40\udc67`, never a five-digit
 * `\ue0067` that reads back as another character.
 */
export function quoted(value: unknown, max = 70): string {
  const s = typeof value === 'string' ? value.slice(0, max) : value;
  return (JSON.stringify(s) ?? String(s)).replace(/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
