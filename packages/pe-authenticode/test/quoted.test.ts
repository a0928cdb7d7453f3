import { parseCertificate, parsePe } from '../src/index.js';
import { makePe, pattern } from './helpers/make-pe.js';

/**
 * Strings from the file (section names, time values) reach finding and error messages quoted,
 * with no raw control, C1 or bidi character: those messages are printed to terminals.
 */
const RAW = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

test('a section name with ESC and CR gives findings without raw control characters', () => {
  const b = makePe({
    sections: [
      { name: '\x1b[2J\r.b', data: pattern(512, 2), pointer: 0x400 },
      { name: '.a\x07', data: pattern(512, 3), pointer: 0x200 },
    ],
  });
  const findings = parsePe(b).findings;
  expect(findings.map((f) => f.code)).toContain('SECTIONS_UNSORTED');
  for (const f of findings) expect(f.message).not.toMatch(RAW);
  expect(findings.find((f) => f.code === 'SECTIONS_UNSORTED')?.message).toContain('\\u001b[2J\\r.b');
});

test('a bad certificate time is quoted without raw C1 characters', () => {
  // A minimal certificate frame whose notBefore UTCTime holds C1 bytes (latin1 U+0080–U+009F).
  const time = [0x17, 0x0d, 0x9b, 0x32, 0x4a, 0x30, 0x31, 0x30, 0x31, 0x30, 0x30, 0x30, 0x30, 0x30, 0x5a];
  const utc = [0x17, 0x0d, ...new TextEncoder().encode('250101000000Z')];
  const validity = [0x30, time.length + utc.length, ...time, ...utc];
  const name = [0x30, 0x00];
  const alg = [0x30, 0x03, 0x06, 0x01, 0x2a];
  const tbsBody = [0x02, 0x01, 0x01, ...alg, ...name, ...validity, ...name, 0x30, 0x00];
  const tbs = [0x30, tbsBody.length, ...tbsBody];
  const body = [...tbs, ...alg, 0x03, 0x01, 0x00];
  const cert = Uint8Array.from([0x30, body.length, ...body]);
  let message = '';
  try {
    parseCertificate(cert);
  } catch (e) {
    message = (e as Error).message;
  }
  expect(message).toMatch(/time value/);
  expect(message).not.toMatch(RAW);
});
