/**
 * `node --conditions=lsvm-source --import tsx benchmarks/vhdx/convert-runner.ts IN OUT raw|vhdx`
 *
 * Converts one file with the @lsvm/vhdx library and nothing else: the benchmark starts it as a
 * 'cmd' runner so that the harness measures the peak RSS (and wall time, start-up included) of a
 * conversion without loading the whole CLI.
 */
// benchmarks/ is not a dependent of @lsvm/vhdx; import its sources directly (run through tsx).
import { convertFile } from '../../packages/vhdx/src/index.js';

async function main(): Promise<void> {
  const [input, output, to] = process.argv.slice(2);
  if (!input || !output || (to !== 'raw' && to !== 'vhdx')) {
    process.stderr.write('usage: convert-runner.ts IN OUT raw|vhdx\n');
    process.exit(2);
  }
  await convertFile(input, output, { to });
}

main().catch((e: unknown) => {
  process.stderr.write(`convert-runner: ${(e as Error).message}\n`);
  process.exit(1);
});
