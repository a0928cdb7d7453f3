import { UsageError } from '@lsvm/core';
import fc from 'fast-check';
import {
  VolumeIdQualifier,
  certificateThumbprint,
  compareTemplateVersions,
  formatTemplateVersion,
  globMatch,
  parseTemplateVersion,
} from '../src/index.js';
import { sampleCatalog } from './fixtures.js';

const catalog = sampleCatalog(); // name 'Ubuntu 24.04 template', version 1.2.3.4
const thumb = certificateThumbprint(catalog.certificates[0]!);

describe('template versions', () => {
  it('parses, formats and compares part by part', () => {
    expect(parseTemplateVersion('1.2.3.4')).toEqual([1, 2, 3, 4]);
    expect(formatTemplateVersion('01.002.3.65535')).toBe('1.2.3.65535');
    expect(compareTemplateVersions('1.10.0.0', '1.9.0.0')).toBeGreaterThan(0);
    expect(compareTemplateVersions('2.0.0.0', '10.0.0.0')).toBeLessThan(0);
    for (const bad of ['1.2.3', '1.2.3.4.5', '1.2.3.65536', '1.2.3.-1', 'a.b.c.d', '1..2.3', '']) {
      expect(() => parseTemplateVersion(bad)).toThrow();
    }
  });
});

describe('globMatch', () => {
  it.each([
    ['*', 'anything', true],
    ['Ubuntu*', 'ubuntu 24.04', true],
    ['*24.04*', 'Ubuntu 24.04 template', true],
    ['Ubuntu ??.04*', 'Ubuntu 22.04', true],
    ['Ubuntu ?.04', 'Ubuntu 22.04', false],
    ['a*b*c', 'a-x-b-y-c', true],
    ['a*b*c', 'a-x-c-y-b', false],
    ['exact', 'exact!', false],
    ['[x]', '[x]', true],
    ['.*', 'ab', false],
  ])('%s ~ %s → %s', (p, s, r) => expect(globMatch(p, s)).toBe(r));

  it('agrees with a regular-expression oracle, and stays linear on hostile patterns', () => {
    const alpha = fc.string({ unit: fc.constantFrom('a', 'b', '*', '?'), maxLength: 12 });
    fc.assert(
      fc.property(alpha, fc.string({ unit: fc.constantFrom('a', 'b'), maxLength: 12 }), (p, s) => {
        const re = new RegExp(`^${p.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
        expect(globMatch(p, s)).toBe(re.test(s));
      }),
    );
    // A backtracking matcher needs ~2^128 steps here; ours is linear (the jest timeout would stop the other).
    expect(globMatch(`${'*a'.repeat(128)}b`, 'a'.repeat(256))).toBe(false);
  });
});

describe('VolumeIdQualifier', () => {
  const q = (
    name: string,
    version: string,
    rule: 'Equals' | 'GreaterThan' | 'GreaterThanOrEquals',
    t = thumb,
  ) => new VolumeIdQualifier({ name, version, rule, signerThumbprint: t });

  it('matches on name pattern, version rule and signer', () => {
    expect(q('Ubuntu*', '1.2.3.4', 'Equals').matches(catalog)).toEqual({ matches: true });
    expect(q('*', '1.2.3.3', 'GreaterThan').matches(catalog)).toEqual({ matches: true });
    expect(q('*', '1.2.3.4', 'GreaterThanOrEquals').matches(catalog)).toEqual({ matches: true });
    expect(q('*', '1.2.3.4', 'GreaterThanOrEquals', thumb.toUpperCase()).matches(catalog)).toEqual({
      matches: true,
    });
  });

  it('says why it does not match', () => {
    expect(q('Debian*', '1.2.3.4', 'Equals').matches(catalog)).toMatchObject({
      matches: false,
      field: 'name',
    });
    expect(q('*', '1.2.3.5', 'Equals').matches(catalog)).toMatchObject({
      matches: false,
      field: 'version',
      reason: 'version 1.2.3.4 is not equal to 1.2.3.5',
    });
    expect(q('*', '1.2.3.4', 'GreaterThan').matches(catalog)).toMatchObject({
      matches: false,
      field: 'version',
    });
    expect(q('*', '1.3.0.0', 'GreaterThanOrEquals').matches(catalog)).toMatchObject({
      matches: false,
      field: 'version',
    });
    expect(q('*', '1.2.3.4', 'Equals', 'ab'.repeat(32)).matches(catalog)).toMatchObject({
      matches: false,
      field: 'signer',
    });
  });

  it('rejects malformed qualifiers', () => {
    expect(() => q('', '1.0.0.0', 'Equals')).toThrow(UsageError);
    expect(() => q('*', '1.0.0.0', 'LessThan' as 'Equals')).toThrow(UsageError);
    expect(() => q('*', '1.0.0.0', 'Equals', 'abc')).toThrow(UsageError);
    expect(() => q('*', '1.0.0', 'Equals')).toThrow();
  });

  it('serialises to its normalised fields', () => {
    expect(q('*', '01.0.0.0', 'Equals', thumb.toUpperCase()).toJSON()).toEqual({
      name: '*',
      version: '1.0.0.0',
      rule: 'Equals',
      signerThumbprint: thumb,
    });
  });
});
