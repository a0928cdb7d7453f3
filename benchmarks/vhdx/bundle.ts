/**
 * Builds the current sources of the CLI and of convert-runner.ts into plain JavaScript for the
 * benchmark, the way they ship: `lsvm` and a user's script run compiled code, not TypeScript
 * compiled at start-up by tsx. tsx costs 0.4–0.5 s of CPU per process whatever it loads (measured:
 * `node --import tsx` of an empty file), which is a quarter of a 2 GiB conversion's time; a
 * bundle starts in about 0.1 s.
 *
 * esbuild is the compiler inside tsup, the packages' build tool (a root devDependency), so it is
 * found through tsup. Workspace packages are bundled from their sources (the `lsvm-source`
 * condition); npm packages stay external, imported by absolute path so the bundle can live in the
 * scratch directory, and the CLI's lazily loaded command groups stay separate chunks (splitting),
 * so the bundled CLI loads what the sources-run CLI loads.
 */
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

/** The bundled entry points. */
export interface Bundles {
  /** The `lsvm` CLI (packages/cli/src/main.ts). */
  cli: string;
  /** benchmarks/vhdx/convert-runner.ts: the library alone. */
  runner: string;
}

interface EsbuildPlugin {
  name: string;
  setup(build: {
    onResolve(
      options: { filter: RegExp },
      callback: (args: {
        path: string;
        resolveDir: string;
      }) => { path: string; external: boolean } | undefined,
    ): void;
  }): void;
}

interface Esbuild {
  build(options: Record<string, unknown> & { plugins?: EsbuildPlugin[] }): Promise<unknown>;
}

/** Bundles both entry points into `outDir`. */
export async function bundleForBench(root: string, outDir: string): Promise<Bundles> {
  const fromTsup = createRequire(realpathSync(join(root, 'node_modules/tsup/package.json')));
  const esbuild = fromTsup('esbuild') as Esbuild;
  const npmExternal: EsbuildPlugin = {
    name: 'npm-external',
    setup(build) {
      // Bare specifiers that are not workspace packages or node builtins: npm dependencies.
      build.onResolve({ filter: /^[^./]/ }, (args) => {
        if (args.path.startsWith('@lsvm/') || args.path.startsWith('node:')) return undefined;
        const req = createRequire(join(args.resolveDir, 'index.js'));
        return { path: req.resolve(args.path), external: true };
      });
    },
  };
  await esbuild.build({
    entryPoints: {
      cli: join(root, 'packages/cli/src/main.ts'),
      runner: join(root, 'benchmarks/vhdx/convert-runner.ts'),
    },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    conditions: ['lsvm-source'],
    outdir: outDir,
    logLevel: 'warning',
    plugins: [npmExternal],
  });
  return { cli: join(outDir, 'cli.js'), runner: join(outDir, 'runner.js') };
}
