/**
 * Terminal-safe text for the human (non `--json`) output of the groups that print strings taken
 * from a parsed, possibly hostile, file: certificate subject and issuer names, SpcSpOpusInfo
 * program names and URLs, guardian and VIQ names, specialization file names and values.
 *
 * A crafted certificate can carry `ESC [ … m` / `ESC ] … BEL` sequences (recolour, retitle or
 * clear the terminal, fake a "trusted" line after a carriage return), C1 controls that some
 * terminals read as CSI, and Unicode bidi overrides (U+202E) that display a name backwards
 * (CVE-2021-42574, "Trojan Source"). Every interpolated value is therefore escaped: C0/C1
 * controls and DEL as `\xHH`, Unicode format characters (bidi embeddings, overrides and
 * isolates, zero-width characters, BOM), line and paragraph separators and lone surrogates as
 * `\uHHHH`. Printable text, non-ASCII letters included, is unchanged — the backslash too: names
 * are often already in RFC 4514 form (`O=Contoso\, Ltd`, the shielding-data certificates escape
 * their controls as `\1B`), and doubling it would misprint every such name. So the text is safe
 * to print but not reversible; `--json` gives the exact value and needs none of this:
 * JSON.stringify escapes every C0 control and lone surrogate, and the other characters are data a
 * JSON consumer handles as such.
 *
 * The file is named for the group it was written for; the shielding-data groups use it too.
 */

/** Characters that are escaped: controls (Cc), format (Cf), separators (Zl, Zp), lone surrogates. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** One unsafe character in its escaped form. */
function escapeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  if (code <= 0xffff) return `\\u${code.toString(16).padStart(4, '0')}`;
  return `\\u{${code.toString(16)}}`;
}

/**
 * `value` made safe to write to a terminal: controls, format characters, separators and lone
 * surrogates escaped (see the file comment). Non-strings go through `String()`.
 */
export function terminalSafe(value: unknown): string {
  return String(value).replace(UNSAFE, escapeChar);
}

/**
 * Tagged template that escapes every interpolated value with {@link terminalSafe} and keeps the
 * literal parts (the command's own layout, newlines included) as written:
 * `` safeText`signature ${path}: ${subject}` ``.
 */
export function safeText(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += terminalSafe(values[i]) + (strings[i + 1] ?? '');
  return out;
}
