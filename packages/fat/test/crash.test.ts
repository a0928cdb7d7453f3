import { MemoryDevice } from '@lsvm/core';
import { type FatFinding, FatFileSystem, type FatOpenOptions, type FatStat, checkFat, mkfs } from '@lsvm/fat';
import { bytes } from './helpers.js';
import { fillFreeClustersWithGarbage } from './garbage.js';
import { type Recorded, RecordingDevice } from './recording-device.js';

/**
 * Every file of a volume, each directory visited once (a directory a crash left in two places is
 * listed at the first; `walk` would refuse it as a loop).
 */
async function filesOf(fs: FatFileSystem): Promise<FatStat[]> {
  const out: FatStat[] = [];
  const seen = new Set<number>();
  const visit = async (path: string): Promise<void> => {
    for (const s of await fs.list(path)) {
      if (!s.isDirectory) out.push(s);
      else if (!seen.has(s.firstCluster)) {
        seen.add(s.firstCluster);
        await visit(s.path);
      }
    }
  };
  await visit('/');
  return out;
}

/**
 * The subsets of one epoch's writes a crash is checked with: none, and when there are several,
 * each write alone and all but each one (the first and the last, to bound the run time).
 */
function subsetsOf(inEpoch: readonly Recorded[]): Recorded[][] {
  const out: Recorded[][] = [[]];
  if (inEpoch.length < 2) return out;
  const step = Math.max(1, inEpoch.length - 1);
  for (let k = 0; k < inEpoch.length; k += step) {
    const w = inEpoch[k]!;
    out.push(
      [w],
      inEpoch.filter((x) => x !== w),
    );
  }
  return out;
}

/** Checks a crashed image (FAT copy 2 too when the copies differ: fsck.fat may pick either). */
async function checkCrashed(image: Uint8Array): Promise<{ findings: FatFinding[]; fs: FatFileSystem }> {
  const fs = await FatFileSystem.open(new MemoryDevice(image), { readOnly: true });
  const findings = (await checkFat(fs)).findings;
  if (findings.some((f) => f.code === 'FAT_COPIES_DIFFER')) {
    const g = fs.geometry;
    const len = g.fatSectors * g.bytesPerSector;
    const from = (g.firstFatSector + g.fatSectors) * g.bytesPerSector;
    const at = g.firstFatSector * g.bytesPerSector;
    const saved = image.slice(at, at + len);
    image.copyWithin(at, from, from + len);
    const fs2 = await FatFileSystem.open(new MemoryDevice(image), { readOnly: true });
    findings.push(...(await checkFat(fs2)).findings);
    image.set(saved, at);
  }
  return { findings, fs };
}

type Scenario = (fs: FatFileSystem, wrote: (name: string, data: Uint8Array) => Uint8Array) => Promise<void>;

/** What a crash test may add to the plain run of a scenario. */
interface CrashExtras {
  /** Cluster size of the volume (default: mkfs's). */
  clusterSize?: number;
  /** Run (and closed) before the recording starts: its writes are never torn. */
  setup?: Scenario;
  /** Contents some file must hold in every crash state (a file that must never be lost). */
  survivor?: Uint8Array;
}

/**
 * Runs `scenario` on a fresh volume recording every write, then replays every crash state (see
 * {@link RecordingDevice}) and checks it: only the `allowed` findings, and every file found holds
 * content that was written to it. The free clusters start out full of stale directory entries
 * (see {@link fillFreeClustersWithGarbage}), so a cluster linked before it is zeroed shows.
 */
async function crashTest(
  type: 16 | 32,
  options: FatOpenOptions,
  allowed: ReadonlySet<string>,
  model: 'process' | 'power',
  scenario: Scenario,
  extras: CrashExtras = {},
): Promise<number> {
  const base = new MemoryDevice(type === 32 ? 34 << 20 : 8 << 20);
  await mkfs(base, { type, volumeId: 7, ...(extras.clusterSize ? { clusterSize: extras.clusterSize } : {}) });
  await fillFreeClustersWithGarbage(base);
  const versions = new Map<string, Uint8Array[]>(); // name (last component) → contents written
  const wrote = (name: string, data: Uint8Array): Uint8Array => {
    versions.set(name, [...(versions.get(name) ?? []), data]);
    return data;
  };
  const now = (): Date => new Date(Date.UTC(2026, 0, 2));
  if (extras.setup) {
    const pre = await FatFileSystem.open(base, { now });
    await extras.setup(pre, wrote);
    await pre.close();
  }
  const rec = new RecordingDevice(new MemoryDevice(base.bytes.slice()), model);
  const fs = await FatFileSystem.open(rec, { ...options, now });
  await scenario(fs, wrote);
  await fs.close();
  let states = 0;
  const prefix = base.bytes; // every epoch before the current one applied
  const epochs = [...new Set(rec.writes.map((w) => w.epoch))];
  for (const e of epochs) {
    const inEpoch = rec.writes.filter((w) => w.epoch === e);
    for (const subset of subsetsOf(inEpoch)) {
      const label = `epoch ${e} of ${epochs.length}, ${subset.length} of its ${inEpoch.length} writes`;
      // Applied to the prefix in place (an image is 8 or 34 MiB), then undone below.
      const saved = subset.map((w) => prefix.slice(w.offset, w.offset + w.bytes.length));
      for (const w of subset) prefix.set(w.bytes, w.offset);
      const { findings, fs: crashed } = await checkCrashed(prefix);
      const bad = findings.filter((f) => !allowed.has(f.code));
      expect({ state: label, bad }).toEqual({ state: label, bad: [] });
      const files = await filesOf(crashed);
      if (extras.survivor) {
        const want = extras.survivor;
        let found = false;
        for (const s of files) {
          if (s.size !== want.length) continue;
          const data = await crashed.readFile(s.path);
          if (data.every((b, i) => b === want[i])) found = true;
        }
        expect({ state: label, survivorFound: found }).toEqual({ state: label, survivorFound: true });
      }
      for (const s of files) {
        const data = await crashed.readFile(s.path);
        const same = (v: Uint8Array): boolean => v.length === data.length && v.every((b, i) => b === data[i]);
        // A file whose long-name entries did not land shows under its short name: then any
        // content ever written will do; under its own name, one of that name's contents.
        const name = s.path.slice(s.path.lastIndexOf('/') + 1);
        const known = versions.get(name) ?? [...versions.values()].flat();
        expect({ state: label, path: s.path, matches: known.some(same) }).toEqual({
          state: label,
          path: s.path,
          matches: true,
        });
      }
      for (let k = subset.length - 1; k >= 0; k--) prefix.set(saved[k]!, subset[k]!.offset);
      states++;
    }
    for (const w of inEpoch) prefix.set(w.bytes, w.offset);
  }
  // Every write applied: the final image is clean.
  expect(
    (await checkFat(await FatFileSystem.open(new MemoryDevice(prefix), { readOnly: true }))).findings,
  ).toEqual([]);
  return states;
}

/** Creates, grows a directory, writes a large file, replaces, removes, renames in place. */
async function scenario(
  fs: FatFileSystem,
  wrote: (name: string, data: Uint8Array) => Uint8Array,
): Promise<void> {
  await fs.writeFile('/readme.txt', wrote('readme.txt', bytes(700, 1)));
  for (let i = 0; i < 14; i++) {
    const name = `entry with a rather longer name, number ${i}.txt`; // 5 slots each
    await fs.writeFile(`/dir/${name}`, wrote(name, bytes(100 + i * 300, 10 + i)), { createParents: true });
  }
  await fs.writeFile('/dir/sub/deep.bin', wrote('deep.bin', bytes(5000, 3)), { createParents: true });
  await fs.writeFile('/large.bin', wrote('large.bin', bytes((1 << 20) + 3000, 4)));
  await fs.writeFile('/readme.txt', wrote('readme.txt', bytes(2100, 5)));
  await fs.writeFile('/after.txt', wrote('after.txt', bytes(10, 6)));
  await fs.remove('/dir/entry with a rather longer name, number 3.txt');
  wrote('Renamed in place.txt', bytes(10, 6));
  await fs.rename('/after.txt', '/Renamed in place.txt');
  await fs.mkdir('/empty');
  await fs.writeFile('/dir/sub/late.txt', wrote('late.txt', bytes(64, 7)));
  // /dir grew past one cluster, so growing a directory is among what crashed.
  expect(fs.fat.chain((await fs.stat('/dir')).firstCluster).length).toBeGreaterThan(1);
}

/** Moves a file and a directory to other directories. */
async function moveScenario(
  fs: FatFileSystem,
  wrote: (name: string, data: Uint8Array) => Uint8Array,
): Promise<void> {
  await fs.writeFile('/a/sub/inner.txt', wrote('inner.txt', bytes(3000, 1)), { createParents: true });
  await fs.writeFile('/a/file.txt', wrote('file.txt', bytes(1000, 2)));
  await fs.mkdir('/b');
  await fs.writeBack();
  await fs.rename('/a/file.txt', '/b/file.txt');
  await fs.rename('/a/sub', '/b/sub');
}

/**
 * A directory spanning two clusters (512 bytes each), its first full; then a file in the first
 * is renamed to a long name whose entry set only fits in the second.
 */
const renameSetup: Scenario = async (fs, wrote) => {
  await fs.writeFile('/d/keep.txt', wrote('keep.txt', bytes(600, 9)), { createParents: true });
  for (let i = 0; i < 14; i++) await fs.writeFile(`/d/f${i}.txt`, wrote(`f${i}.txt`, new Uint8Array(0)));
};
const renameAcrossClusters: Scenario = async (fs, wrote) => {
  wrote('a much longer name for the precious file.txt', bytes(600, 9));
  await fs.rename('/d/keep.txt', '/d/a much longer name for the precious file.txt');
  wrote('F3.TXT', new Uint8Array(0));
  await fs.rename('/d/f3.txt', '/d/F3.TXT'); // the same slot: still one write
};

/**
 * The findings a crash may leave: lost clusters, what a dirty unmount always leaves (dirty bit,
 * stale FSInfo, FAT copies one phase apart) and the long-name entries of an entry set straddling
 * two directory clusters when only the first landed (ignored by every reader).
 */
const CRASH_OK = new Set([
  'FAT_LOST_CLUSTERS',
  'FAT_DIRTY',
  'FAT_FSINFO_FREE',
  'FAT_COPIES_DIFFER',
  'FAT_ORPHAN_LFN',
]);

describe('FAT crash safety: every state a crash can leave checks clean but for lost clusters', () => {
  test.each([
    [32, 'write-back (default)', {}],
    [16, 'write-back with a small buffer (many write-outs)', { writeBackBytes: 4096 }],
    [16, 'write-through', { writeBackBytes: 0 }],
  ] as const)('FAT%i, %s', async (type, _what, options) => {
    const states = await crashTest(type, options, CRASH_OK, 'process', scenario);
    expect(states).toBeGreaterThan(10);
  });

  test('a move to another directory may leave the entry in both places for a moment (a cross-link), contents intact', async () => {
    // The new entry lands before the old one goes (then a moved directory's `..`): in between,
    // fsck.fat sees the file or directory twice. Its contents are intact either way.
    const allowed = new Set([...CRASH_OK, 'FAT_CROSS_LINKED', 'FAT_BAD_DOTDOT']);
    const states = await crashTest(16, {}, allowed, 'process', moveScenario);
    expect(states).toBeGreaterThan(3);
  });
  test('a rename within one directory whose new entry lands in another sector never loses the file (new entry first)', async () => {
    // Old and new entry sets in different sectors cannot switch in one write: the new set lands
    // first, then the old goes; in between the file is listed twice (a cross-link), never lost.
    const allowed = new Set([...CRASH_OK, 'FAT_CROSS_LINKED']);
    const states = await crashTest(32, {}, allowed, 'process', renameAcrossClusters, {
      clusterSize: 512,
      setup: renameSetup,
      survivor: bytes(600, 9),
    });
    expect(states).toBeGreaterThan(3);
  });
  test('with barriers, the same holds for a power loss (any order between device flushes)', async () => {
    const states = await crashTest(16, { barriers: true }, CRASH_OK, 'power', scenario);
    expect(states).toBeGreaterThan(10);
  });

  test('the recorder sees the phases: data and FAT before the directories that name them', async () => {
    // A sanity check of the harness itself: one staged file written out is two epochs.
    const base = new MemoryDevice(8 << 20);
    await mkfs(base, { type: 16, volumeId: 7 });
    const fs0 = await FatFileSystem.open(base);
    await fs0.close();
    const rec = new RecordingDevice(base);
    const fs = await FatFileSystem.open(rec);
    await fs.writeFile('/one.txt', bytes(3000, 1));
    await fs.writeFile('/two.txt', bytes(3000, 2));
    rec.writes.length = 0;
    await fs.writeBack();
    const epochs = [...new Set(rec.writes.map((w) => w.epoch))];
    expect(epochs).toHaveLength(2);
    const g = fs.geometry;
    const dataStart = g.firstDataSector * g.bytesPerSector;
    const first = rec.writes.filter((w) => w.epoch === epochs[0]);
    const second = rec.writes.filter((w) => w.epoch === epochs[1]);
    // First: the two files' data (one joined write) and both FAT copies; then the root directory.
    expect(first.filter((w) => w.offset >= dataStart)).toHaveLength(1);
    expect(first.filter((w) => w.offset < dataStart)).toHaveLength(2);
    expect(second.every((w) => w.offset < dataStart)).toBe(true); // FAT16 root: before the data
    await fs.close();
  });
});
