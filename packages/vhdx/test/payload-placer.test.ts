import { batGeometry, PayloadState, payloadEntryIndex, readBatEntry } from '../src/bat.js';
import { PayloadPlacer } from '../src/payload-placer.js';

const MiB = 1 << 20;
const geometry = (virtualDiskSize: number) =>
  batGeometry({ blockSize: MiB, logicalSectorSize: 512, virtualDiskSize, hasParent: false });

describe('PayloadPlacer', () => {
  test('dynamic: blocks allocated in order on their first non-empty chunk, empty chunks skipped', () => {
    const g = geometry(4 * MiB);
    const p = new PayloadPlacer(g, 4 * MiB, false);
    const q = 256 * 1024;
    expect(p.place(0, true)).toBe(-1); // block 0 stays unallocated
    expect(p.place(MiB, true)).toBe(-1);
    expect(p.place(MiB + q, false)).toBe(4 * MiB + q); // block 1 → first payload block
    expect(p.place(MiB + 2 * q, true)).toBe(-1); // a hole inside an allocated block
    expect(p.place(MiB + 3 * q, false)).toBe(4 * MiB + 3 * q);
    expect(p.place(3 * MiB, false)).toBe(5 * MiB); // block 3 → second payload block
    expect(p.end).toBe(6 * MiB);
    expect(readBatEntry(p.bat, payloadEntryIndex(g, 0)).state).toBe(PayloadState.NOT_PRESENT);
    expect(readBatEntry(p.bat, payloadEntryIndex(g, 1))).toEqual({
      state: PayloadState.FULLY_PRESENT,
      fileOffset: 4 * MiB,
    });
    expect(readBatEntry(p.bat, payloadEntryIndex(g, 3)).fileOffset).toBe(5 * MiB);
    expect(p.fixedTail()).toBeUndefined();
  });

  test('fixed: every block is allocated and the last partial block has a tail to fill', () => {
    const size = 2 * MiB + 4096;
    const p = new PayloadPlacer(geometry(size), 8 * MiB, true);
    expect(p.place(0, true)).toBe(8 * MiB);
    expect(p.place(MiB, true)).toBe(9 * MiB);
    expect(p.fixedTail()).toBeUndefined(); // block 1 is whole
    expect(p.place(2 * MiB, false)).toBe(10 * MiB);
    expect(p.end).toBe(11 * MiB);
    expect(p.fixedTail()).toEqual({ offset: 10 * MiB + 4096, length: MiB - 4096 });
  });
});
