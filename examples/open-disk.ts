import { type BlockDevice, FileDevice } from '@lsvm/core';
import { openVhdxFile } from '@lsvm/vhdx';

/** Opens a raw image or a VHDX (recognised by its `vhdxfile` signature) as a BlockDevice. */
export async function openAnyDisk(path: string, writable = false): Promise<BlockDevice> {
  const f = await FileDevice.open(path);
  const sig = new TextDecoder().decode(await f.read(0, Math.min(8, f.size)));
  await f.close();
  return sig === 'vhdxfile'
    ? openVhdxFile(path, { readOnly: !writable })
    : FileDevice.open(path, { readOnly: !writable });
}
