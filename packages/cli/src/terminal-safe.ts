/**
 * Terminal-safe text for everything the CLI prints: strings taken from a parsed, possibly
 * hostile, file — certificate subject and issuer names, SpcSpOpusInfo program names and URLs,
 * guardian and VIQ names, specialization file names and values, partition names, cpio member and
 * FAT file names, LUKS labels, VHDX parent paths, and the error messages that quote any of them.
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
 * Two layers: groups escape each interpolated value with {@link safeText} / {@link terminalSafe}
 * (which also escapes a newline inside a value), and CliContext and the error printer pass every
 * line of human output through {@link terminalSafeText} (which keeps the layout's own newlines and
 * tabs), so a group that forgets the first layer still cannot emit a control sequence. JSON output
 * gets {@link jsonTerminalSafe}: the same data, with C1 controls, format and separator characters
 * written as `\uXXXX` escapes. Escaping is idempotent (the escapes are printable), so the layers
 * compose.
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

/** Like {@link UNSAFE} but keeping newline and tab, the layout of multi-line human output. */
const UNSAFE_IN_TEXT = /[\x00-\x08\x0b-\x1f\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

/** A whole block of human output made terminal-safe, its newlines and tabs kept. */
export function terminalSafeText(text: string): string {
  return text.replace(UNSAFE_IN_TEXT, escapeChar);
}

/**
 * Characters JSON.stringify leaves raw that a terminal still interprets: DEL and C1 controls,
 * format characters (bidi overrides), line and paragraph separators. (It escapes C0 controls and
 * lone surrogates itself.)
 */
const UNSAFE_IN_JSON = /[\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}]/gu;

/** JSON text with {@link UNSAFE_IN_JSON} characters as `\uXXXX` escapes: the same JSON value. */
export function jsonTerminalSafe(json: string): string {
  // Per UTF-16 code unit: a character beyond U+FFFF (the tag characters of flag emoji are format
  // characters) becomes its surrogate pair, `\udb40\udc67`, which JSON reads back exactly; a
  // five-digit `\ue0067` would read as U+E006 followed by "7".
  return json.replace(UNSAFE_IN_JSON, (ch) => {
    let out = '';
    for (let i = 0; i < ch.length; i++) out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return out;
  });
}
