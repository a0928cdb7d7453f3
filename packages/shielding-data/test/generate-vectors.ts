/**
 * Writes test-vectors/shielding-data/. Guardian key directories are generated only when missing
 * (that step is random); everything else is rebuilt deterministically. From the repository root:
 *
 *     node --conditions=lsvm-source --import tsx packages/shielding-data/test/generate-vectors.ts
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateGuardian, writeGuardianDir } from '../src/index.js';
import { VECTOR, buildVectors, vectorDir, vectorGuardians } from './vectors.js';

mkdirSync(vectorDir, { recursive: true });
for (const g of [VECTOR.owner, VECTOR.fabric]) {
  const dir = join(vectorDir, g.dir);
  if (!existsSync(dir))
    writeGuardianDir(
      dir,
      generateGuardian(g.name, { algorithm: g.algorithm, notBefore: new Date('2026-01-01T00:00:00Z') }),
    );
}
const { owner, fabric } = vectorGuardians();
for (const [name, bytes] of Object.entries(buildVectors(owner, fabric)))
  writeFileSync(join(vectorDir, name), bytes);
console.log(`vectors written to ${vectorDir}`);
