import { type BlockDevice, SliceDevice } from '@lsvm/core';
import { usedEntry } from './edit.js';
import { type OpenGptOptions, readGpt } from './open.js';
import type { GptTable } from './table.js';

/**
 * A partition as a BlockDevice — the piece the other packages compose on (DESIGN.md: "a GPT
 * partition of it is a BlockDevice (a slice)"). The slice is bounds-checked: no read or write
 * through it can reach a neighbour.
 */

/** The slice of `disk` holding partition `index` (1-based) of `table`. */
export function partitionSlice(
  disk: BlockDevice,
  table: GptTable,
  index: number,
  options: { readOnly?: boolean } = {},
): SliceDevice {
  const e = usedEntry(table, index);
  const ss = table.sectorSize;
  return new SliceDevice(disk, e.firstLba * ss, (e.lastLba - e.firstLba + 1) * ss, {
    sectorSize: ss,
    ...(options.readOnly !== undefined ? { readOnly: options.readOnly } : {}),
  });
}

/**
 * Reads the GPT of `disk` and returns partition `index` (1-based slot) as a BlockDevice.
 * @throws UsageError `GPT_NO_SUCH_PARTITION` for an empty slot; FormatError when there is no
 *   usable GPT; IoError `OUT_OF_RANGE` when the partition runs past the end of the device.
 */
export async function partitionDevice(
  disk: BlockDevice,
  index: number,
  options: OpenGptOptions & { readOnly?: boolean } = {},
): Promise<SliceDevice> {
  const { table } = await readGpt(disk, options);
  return partitionSlice(disk, table, index, options);
}
