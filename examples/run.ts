/**
 * `pnpm example <name> [args…]` — runs examples/<name>.ts and prints what its `main` returns.
 */
const [name, ...args] = process.argv.slice(2);
const names = [
  'inspect-disk',
  'luks-header-scan',
  'verify-boot-chain',
  'protect-template',
  'provision-vm',
  'boot-unlock',
];
if (!name || !names.includes(name)) {
  process.stderr.write(`usage: pnpm example <${names.join('|')}> [args…]\n`);
  process.exit(2);
}
const mod = (await import(`./${name}.ts`)) as { main(args: string[]): Promise<string[]> };
try {
  for (const line of await mod.main(args)) process.stdout.write(`${line}\n`);
} catch (e) {
  process.stderr.write(`${name}: ${(e as Error).message}\n`);
  process.exit(1);
}
