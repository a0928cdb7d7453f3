import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { FormatError, UnsupportedError, AuthError, VerificationError, UsageError } from '@lsvm/core';
import { ExitCode, VERSION, exitCodeFor } from '../src/index.js';
import { groups } from '../src/groups/index.js';
import { lsvm } from './helpers.js';

describe('lsvm CLI skeleton', () => {
  test('--help lists every registered group', async () => {
    const r = await lsvm(['--help']);
    expect(r.code).toBe(0);
    for (const g of groups) expect(r.stdout).toContain(g.name);
    expect(r.stdout).toContain('--json');
  });

  test('--version matches package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as {
      version: string;
    };
    expect(VERSION).toBe(pkg.version);
    const r = await lsvm(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  test('<group> --help works for every group', async () => {
    for (const g of groups) {
      const r = await lsvm([g.name, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Usage: lsvm/);
    }
  });

  test('unknown commands and options are usage errors (exit 2)', async () => {
    expect((await lsvm(['no-such-group'])).code).toBe(ExitCode.Usage);
    expect((await lsvm(['gpt', 'types', '--no-such-option'])).code).toBe(ExitCode.Usage);
  });

  test('exit codes by error kind', () => {
    expect(exitCodeFor(new FormatError('X', 'x'))).toBe(3);
    expect(exitCodeFor(new UnsupportedError('X', 'x'))).toBe(4);
    expect(exitCodeFor(new AuthError('X', 'x'))).toBe(5);
    expect(exitCodeFor(new VerificationError('X', 'x'))).toBe(1);
    expect(exitCodeFor(new UsageError('X', 'x'))).toBe(2);
    expect(exitCodeFor(new Error('boom'))).toBe(3);
  });

  test('errors print one line `lsvm: CODE: message` and no stack unless LSVM_DEBUG=1', async () => {
    // A throwaway group that fails with a typed error, registered through the public builder.
    const { buildProgram } = await import('../src/index.js');
    const { reportError } = await import('../src/program.js');
    let err = '';
    const io = {
      stdout: { write: () => true },
      stderr: { write: (s: string) => (err += s) },
      readStdin: async () => new Uint8Array(),
      env: {},
    };
    reportError(
      new FormatError('GPT_BAD_SIGNATURE', 'no EFI PART signature', { structure: 'GPT header', offset: 512 }),
      io,
    );
    expect(err).toBe('lsvm: GPT_BAD_SIGNATURE: no EFI PART signature (GPT header at offset 512)\n');
    err = '';
    reportError(new Error('x'), { ...io, env: { LSVM_DEBUG: '1' } });
    expect(err.split('\n').length).toBeGreaterThan(2);
    expect((await buildProgram(io)).program).toBeInstanceOf(Command);
  });

  test('--json puts exactly one JSON document on stdout (before or after the subcommand)', async () => {
    for (const args of [
      ['--json', 'gpt', 'types'],
      ['gpt', 'types', '--json'],
    ]) {
      const r = await lsvm(args);
      expect(r.code).toBe(0);
      expect(() => JSON.parse(r.stdout)).not.toThrow();
    }
  });

  test('--quiet prints nothing on success', async () => {
    const r = await lsvm(['--quiet', 'gpt', 'types']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
  });
});

describe('the lsvm binary', () => {
  test('bin/lsvm.js runs (from sources before a build) and exits with the CLI code', () => {
    const { spawnSync } = require('node:child_process') as typeof import('node:child_process');
    const bin = join(__dirname, '..', 'bin', 'lsvm.js');
    const ok = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim()).toBe(VERSION);
    const bad = spawnSync(process.execPath, [bin, 'no-such-group'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
  });
});

describe('lazy groups', () => {
  test('only the group the command line names is loaded', async () => {
    const { buildProgram, selectedGroups } = await import('../src/program.js');
    const loaded: string[] = [];
    const lazy = (name: string) => ({
      name,
      description: `the ${name} group`,
      load: async () => {
        loaded.push(name);
        return { name, description: `the ${name} group`, register: (c: Command) => void c.command('x') };
      },
    });
    const io = {
      stdout: { write: () => true },
      stderr: { write: () => true },
      readStdin: async () => new Uint8Array(),
      env: {},
    };
    expect(selectedGroups(['--json', 'b', 'x', '--flag'])).toEqual(['b']);
    expect(selectedGroups(['help', 'c'])).toEqual(['c']);
    expect(selectedGroups(['--help'])).toEqual([]);
    const { program } = await buildProgram(io, ['b'], [lazy('a'), lazy('b'), lazy('c')]);
    expect(loaded).toEqual(['b']);
    expect(program.commands.map((c) => c.name())).toEqual(['a', 'b', 'c']);
    expect(program.commands[1]!.commands.map((c) => c.name())).toEqual(['x']);
  });

  test('every listed group loads under the name it is listed with', async () => {
    const { isLazyGroup } = await import('../src/group.js');
    for (const g of groups) {
      const loaded = isLazyGroup(g) ? await g.load() : g;
      expect(loaded.name).toBe(g.name);
    }
  });
});
