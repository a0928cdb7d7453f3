import { ByteReader, FormatError } from '@lsvm/core';

/** The FAT32 FSInfo sector (fatgen103 §5): hints only, never trusted for correctness. */
export interface FsInfo {
  /** FSI_Free_Count: last known free cluster count, 0xFFFFFFFF when unknown. */
  freeCount: number;
  /** FSI_Nxt_Free: where to start looking for a free cluster, 0xFFFFFFFF when unknown. */
  nextFree: number;
}

/** FSInfo value meaning "not known". */
export const FSINFO_UNKNOWN = 0xffffffff;

const LEAD_SIG = 0x41615252;
const STRUC_SIG = 0x61417272;
const TRAIL_SIG = 0xaa550000;

/** Parses an FSInfo sector, checking its three signatures. */
export function parseFsInfo(bytes: Uint8Array): FsInfo {
  const r = new ByteReader(bytes, { structure: 'FAT32 FSInfo' });
  const check = (at: number, want: number, name: string): void => {
    if (r.u32At(at) !== want) {
      throw new FormatError('FAT_FSINFO_SIGNATURE', `FSInfo ${name} signature is wrong`, {
        structure: 'FAT32 FSInfo',
        offset: at,
      });
    }
  };
  check(0, LEAD_SIG, 'lead');
  check(484, STRUC_SIG, 'structure');
  check(508, TRAIL_SIG, 'trail');
  return { freeCount: r.u32At(488), nextFree: r.u32At(492) };
}

/** Serializes an FSInfo sector of `sectorSize` bytes. */
export function serializeFsInfo(info: FsInfo, sectorSize = 512): Uint8Array {
  const out = new Uint8Array(sectorSize);
  const v = new DataView(out.buffer);
  v.setUint32(0, LEAD_SIG, true);
  v.setUint32(484, STRUC_SIG, true);
  v.setUint32(488, info.freeCount >>> 0, true);
  v.setUint32(492, info.nextFree >>> 0, true);
  v.setUint32(508, TRAIL_SIG, true);
  return out;
}
