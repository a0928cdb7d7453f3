/**
 * Fuzz target: a whole open without the KDF — read both headers, recover a candidate key from
 * every keyslot with a fixed derived key (keyslot-area decryption and AF merge), open the data
 * segment with it and read its first and last sectors. Contract: returns or throws an LsvmError.
 */
import { MemoryDevice, isLsvmError } from '@lsvm/core';
import {
  LuksDevice,
  dataSegmentLayout,
  luks1KeyslotCandidate,
  luks2KeyslotCandidate,
  luksLimits,
  readLuks,
} from '../src/index.js';

const limits = luksLimits({ maxKeyslotAreaBytes: 1 << 20 });

export async function fuzz(data: Buffer): Promise<void> {
  const dev = new MemoryDevice(new Uint8Array(data), { readOnly: true });
  try {
    const v = await readLuks(dev);
    let key: Uint8Array | undefined;
    if (v.version === 1) {
      for (const ks of v.header.keyslots.filter((k) => k.active))
        key = await luks1KeyslotCandidate(
          dev,
          v.header,
          ks.index,
          new Uint8Array(v.header.keyBytes).fill(7),
          limits,
        );
    } else {
      for (const ks of v.active.metadata.keyslots.filter((k) => k.type === 'luks2'))
        key = await luks2KeyslotCandidate(dev, ks, new Uint8Array(ks.area.keySize).fill(7), limits);
    }
    if (!key) return;
    const layout = dataSegmentLayout(v, dev.size);
    const vol = new LuksDevice(dev, layout, key, { readOnly: true });
    if (vol.size > 0) {
      await vol.read(0, Math.min(vol.size, vol.sectorSize));
      await vol.read(vol.size - Math.min(vol.size, 512), Math.min(vol.size, 512));
    }
    await vol.close();
  } catch (e) {
    if (!isLsvmError(e)) throw e;
  }
}
