import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificate } from '@lsvm/pe-authenticode';
import { tempDir } from '@lsvm/testkit';
import { jsonTerminalSafe, safeText, terminalSafe, terminalSafeText } from '../src/terminal-safe.js';
import { lsvm } from './helpers.js';

/**
 * Strings from a parsed file reach the terminal escaped: a certificate subject, guardian name or
 * FSK value carrying ESC sequences, CR, BEL, C1 controls or bidi overrides cannot recolour, clear
 * or retitle the terminal, overwrite a line, or display backwards. `--json` keeps them exact.
 */

/** Everything a hostile name tries: CSI colour, OSC title ended by BEL, CR overwrite, C1 CSI, RLO. */
const HOSTILE = 'evil\x1b[32m trusted\x1b]0;pwned\x07\rok \x9b2J \u202egpj.exe\u2066 \\ end';
const ESCAPED = 'evil\\x1b[32m trusted\\x1b]0;pwned\\x07\\x0dok \\x9b2J \\u202egpj.exe\\u2066 \\ end';

/** What a guardian name may hold (the library refuses C0 controls and DEL in names, not C1 or bidi). */
const HOSTILE_NAME = 'evil \x9b2J \u202egpj.exe\u2066 \\ end';
const ESCAPED_NAME = 'evil \\x9b2J \\u202egpj.exe\\u2066 \\ end';

/** Any character a terminal acts on (C0 but newline, DEL, C1) or a bidi control. */
const RAW_CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

describe('terminalSafe / safeText', () => {
  test('escapes controls, C1, bidi and format characters, separators and lone surrogates', () => {
    expect(terminalSafe(HOSTILE)).toBe(ESCAPED);
    expect(terminalSafe('a\u2028b\u2029c\ufeffd\u200be\ud800f\udfff')).toBe(
      'a\\u2028b\\u2029c\\ufeffd\\u200be\\ud800f\\udfff',
    );
    expect(terminalSafe('\x00\x7f\x85\t\n')).toBe('\\x00\\x7f\\x85\\x09\\x0a');
    expect(terminalSafe('\u{e0001}tag')).toBe('\\u{e0001}tag');
  });

  test('leaves printable text alone: non-ASCII letters, emoji, RFC 4514 backslashes', () => {
    expect(terminalSafe('O=Contoso\\, Ltd, CN=a\\1Bb')).toBe('O=Contoso\\, Ltd, CN=a\\1Bb');
    const s = 'C=US, O=Microsoft Corporation, CN=Microsoft Windows UEFI Driver Publisher — Zürich 東京 🙂';
    expect(terminalSafe(s)).toBe(s);
    expect(terminalSafe(42)).toBe('42');
    expect(terminalSafe(undefined)).toBe('undefined');
  });

  test('safeText escapes the values and keeps the template, newlines included', () => {
    const name = 'x\ny';
    expect(safeText`a ${name}\nb ${1}`).toBe('a x\\x0ay\nb 1');
  });
});

/** A PE32+ image with one section: enough to sign and verify. */
function tinyPe(): Uint8Array {
  const headers = 0x400;
  const section = 0x200;
  const b = new Uint8Array(headers + section);
  const v = new DataView(b.buffer);
  b.set([0x4d, 0x5a]);
  v.setUint32(0x3c, 0x80, true);
  v.setUint32(0x80, 0x4550, true);
  v.setUint16(0x84, 0x8664, true);
  v.setUint16(0x86, 1, true); // one section
  v.setUint16(0x94, 240, true); // SizeOfOptionalHeader (PE32+)
  v.setUint16(0x96, 0x2022, true);
  const o = 0x98;
  v.setUint16(o, 0x20b, true);
  v.setUint32(o + 32, 0x1000, true); // SectionAlignment
  v.setUint32(o + 36, 0x200, true); // FileAlignment
  v.setUint32(o + 56, 0x2000, true); // SizeOfImage
  v.setUint32(o + 60, headers, true); // SizeOfHeaders
  v.setUint16(o + 68, 10, true); // EFI application
  v.setUint32(o + 108, 16, true); // NumberOfRvaAndSizes
  const s = o + 240;
  b.set(new TextEncoder().encode('.data'), s);
  v.setUint32(s + 8, section, true);
  v.setUint32(s + 12, 0x1000, true);
  v.setUint32(s + 16, section, true);
  v.setUint32(s + 20, headers, true);
  v.setUint32(s + 36, 0xc0000040, true);
  for (let i = headers; i < b.length; i++) b[i] = i & 0xff;
  return b;
}

describe('text output of names from hostile files', () => {
  const t = tempDir('lsvm-cli-text-');
  const p = (f: string) => join(t.path, f);
  afterAll(() => t.cleanup());

  test('authenticode sign / verify: a crafted signer subject is escaped in text, exact in --json', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = createCertificate({
      subject: [
        ['O', 'lsvm test'],
        ['CN', HOSTILE],
      ],
      publicKey: privateKey,
      issuerKey: privateKey,
    });
    writeFileSync(p('evil.der'), cert.der);
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    writeFileSync(
      p('other.der'),
      createCertificate({ subject: [['CN', 'other CA']], publicKey: other, issuerKey: other, ca: true }).der,
    );
    writeFileSync(p('evil.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(p('tiny.efi'), tinyPe());
    const subject = `O=lsvm test, CN=${HOSTILE}`;

    const signed = await lsvm([
      'authenticode',
      'sign',
      p('tiny.efi'),
      p('signed.efi'),
      '--cert',
      p('evil.der'),
      '--key',
      p('evil.key'),
    ]);
    expect(signed.code).toBe(0);
    expect(signed.stdout).not.toMatch(RAW_CONTROL);
    expect(signed.stdout).toContain(`as O=lsvm test, CN=${ESCAPED}`);

    for (const trust of [p('evil.der'), p('other.der')]) {
      // Trusted (the signer is the anchor) and not trusted (failure messages name the signer too).
      const v = await lsvm(['authenticode', 'verify', p('signed.efi'), '--trust', trust, '--no-eku']);
      expect(v.stdout).not.toMatch(RAW_CONTROL);
      expect(v.stdout).toContain(`CN=${ESCAPED}`);
    }

    const json = await lsvm(['authenticode', 'verify', p('signed.efi'), '--trust', p('evil.der'), '--json']);
    // JSON escapes C0 controls itself; what it leaves (C1, bidi) is data to a JSON consumer.
    expect(json.stdout).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(JSON.parse(json.stdout).signatures[0].signer.subject).toBe(subject);
  });

  test('guardian show, pdk show and fsk show escape names and values from the file', async () => {
    const created = await lsvm(['guardian', 'new', '--name', HOSTILE_NAME, '--out', p('g'), '--alg', 'p256']);
    expect(created.code).toBe(0);
    expect(created.stdout).not.toMatch(RAW_CONTROL);
    const shown = await lsvm(['guardian', 'show', p('g')]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toMatch(RAW_CONTROL);
    expect(shown.stdout).toContain(`guardian  ${ESCAPED_NAME}`);
    expect(JSON.parse((await lsvm(['guardian', 'show', p('g'), '--json'])).stdout).name).toBe(HOSTILE_NAME);

    writeFileSync(p('user-data'), '#cloud-config\n');
    const pdk = await lsvm([
      'pdk',
      'create',
      '--owner',
      p('g'),
      '--answer-file',
      p('user-data'),
      '--out',
      p('vm.pdk'),
    ]);
    expect(pdk.code).toBe(0);
    expect(pdk.stdout).not.toMatch(RAW_CONTROL);
    const pdkShow = await lsvm(['pdk', 'show', p('vm.pdk')]);
    expect(pdkShow.code).toBe(0);
    expect(pdkShow.stdout).not.toMatch(RAW_CONTROL);
    expect(pdkShow.stdout).toContain(ESCAPED_NAME);

    const fsk = await lsvm(['fsk', 'create', '--set', `@ComputerName@=${HOSTILE}`, '--out', p('x.fsk')]);
    expect(fsk.code).toBe(0);
    const fskShow = await lsvm(['fsk', 'show', p('x.fsk')]);
    expect(fskShow.stdout).not.toMatch(RAW_CONTROL);
    expect(fskShow.stdout).toContain(`@ComputerName@ = ${ESCAPED}`);
    expect(JSON.parse((await lsvm(['fsk', 'show', p('x.fsk'), '--json'])).stdout).pairs[0].value).toBe(
      HOSTILE,
    );
  });
});

describe('the CLI-wide layer (CliContext and the error printer)', () => {
  const t = tempDir('lsvm-cli-text2-');
  const p = (f: string) => join(t.path, f);
  afterAll(() => t.cleanup());

  test('terminalSafeText keeps the layout (newlines, tabs) and is idempotent', () => {
    const text = `name:\t${HOSTILE}\nnext line`;
    const safe = terminalSafeText(text);
    expect(safe).toBe(`name:\t${ESCAPED.replace('\\x0d', '\\x0d')}\nnext line`);
    expect(terminalSafeText(safe)).toBe(safe);
    expect(terminalSafeText(terminalSafe(HOSTILE))).toBe(terminalSafe(HOSTILE));
  });

  test('jsonTerminalSafe writes C1, bidi and separators as \\u escapes: the same JSON value', () => {
    // Astral format characters too: the tag characters of the Wales flag (U+E0067 …).
    const wales = '\u{1f3f4}\u{e0067}\u{e0062}\u{e0077}\u{e006c}\u{e0073}\u{e007f}';
    const value = { name: HOSTILE, list: ['a\u2028b', '\u061c', 'plain ü', `flag ${wales}`] };
    const json = jsonTerminalSafe(JSON.stringify(value, null, 2));
    expect(json).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json)).toEqual(value);
    expect(json).toContain('plain ü');
  });

  test('a partition name from the disk and an error quoting a hostile path reach the terminal escaped', async () => {
    const img = p('names.img');
    expect((await lsvm(['gpt', 'create', img, '--size', '8M'])).code).toBe(0);
    const name = 'EFI\x1b[2J\u202eboot\n  2  forged row';
    expect((await lsvm(['gpt', 'add', img, '--type', 'esp', '--size', '1M', '--name', name])).code).toBe(0);
    const shown = await lsvm(['gpt', 'show', img]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).not.toMatch(RAW_CONTROL);
    // The name's newline is escaped too: it cannot forge a row of the table.
    expect(shown.stdout).toContain('EFI\\x1b[2J\\u202eboot\\x0a  2  forged row');
    expect(shown.stdout.split('\n').filter((l) => l.includes('forged row'))).toHaveLength(1);
    const json = await lsvm(['gpt', 'show', img, '--json']);
    expect(json.stdout).not.toMatch(RAW_CONTROL);
    expect(JSON.stringify(JSON.parse(json.stdout))).toContain(JSON.stringify(name).slice(1, -1));

    const missing = p('no\x1b]0;pwned\x07\nfake: line');
    const err = await lsvm(['gpt', 'show', missing]);
    expect(err.code).not.toBe(0);
    expect(err.stderr).not.toMatch(RAW_CONTROL);
    // One line: the newline inside the path is escaped too.
    expect(err.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(err.stderr).toContain('no\\x1b]0;pwned\\x07\\x0afake: line');
  });
});
