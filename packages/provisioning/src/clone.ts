import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  type BlockDevice,
  FileDevice,
  type LongOperationOptions,
  UsageError,
  forEachChunk,
  throwIfAborted,
} from '@lsvm/core';
import { createVhdxFile, openVhdxFile } from '@lsvm/vhdx';
import { isVhdxPath, openDisk } from './disk.js';

/**
 * Step 3 of provisioning: the VM's disk, made from the template without changing it.
 * `copy` streams every non-zero 4 MiB chunk into a new disk (a dynamic VHDX when the output name
 * ends in `.vhdx`, a sparse raw image otherwise); `differencing` makes a VHDX child whose parent
 * is the template (a fast clone: the template must be a VHDX and must stay where it is, since the
 * child finds it through its relative and absolute parent locators).
 */

/** How the VM disk is made. */
export type CloneMode = 'copy' | 'differencing';

/** Result of {@link cloneTemplate}. */
export interface CloneResult {
  mode: CloneMode;
  format: 'vhdx' | 'raw';
  size: number;
  /** Bytes written (copy: non-zero data; differencing: 0). */
  bytesCopied: number;
}

const CHUNK = 4 * 1024 * 1024;

function isZero(b: Uint8Array): boolean {
  const w = new BigUint64Array(b.buffer, b.byteOffset, b.length >>> 3);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0n) return false;
  for (let i = w.length << 3; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Creates `vmPath` from `templatePath`. Refuses to overwrite an existing file. */
export async function cloneTemplate(
  templatePath: string,
  vmPath: string,
  mode: CloneMode,
  options: LongOperationOptions = {},
): Promise<CloneResult> {
  if (existsSync(vmPath)) throw new UsageError('PROVISION_OUTPUT_EXISTS', `${vmPath} already exists`);
  if (resolve(vmPath) === resolve(templatePath))
    throw new UsageError('PROVISION_OUTPUT_EXISTS', 'the VM disk must not be the template');
  if (mode === 'differencing') {
    if (!(await isVhdxPath(templatePath)))
      throw new UsageError('PROVISION_DIFFERENCING_RAW', 'a differencing clone needs a VHDX template');
    if (!vmPath.toLowerCase().endsWith('.vhdx'))
      throw new UsageError('PROVISION_DIFFERENCING_RAW', 'a differencing clone is a .vhdx file');
    try {
      await createVhdxFile(vmPath, { parentPath: resolve(templatePath) });
      const child = await openVhdxFile(vmPath);
      const size = child.size;
      await child.close();
      return { mode, format: 'vhdx', size, bytesCopied: 0 };
    } catch (e) {
      rmSync(vmPath, { force: true });
      throw e;
    }
  }
  const src = await openDisk(templatePath);
  let out: BlockDevice | undefined;
  try {
    const size = src.disk.size;
    const vhdx = vmPath.toLowerCase().endsWith('.vhdx');
    if (vhdx) {
      await createVhdxFile(vmPath, {
        size,
        type: 'dynamic',
        logicalSectorSize: src.disk.sectorSize === 4096 ? 4096 : 512,
      });
      out = await openVhdxFile(vmPath, { readOnly: false });
    } else {
      out = await FileDevice.open(vmPath, { create: true, size, sectorSize: src.disk.sectorSize });
    }
    let copied = 0;
    const dst = out;
    await forEachChunk(
      src.disk,
      async (chunk, offset) => {
        throwIfAborted(options.signal);
        if (!isZero(chunk)) {
          await dst.write(offset, chunk);
          copied += chunk.length;
        }
        options.onProgress?.(offset + chunk.length, size);
      },
      { chunkSize: CHUNK },
    );
    await out.flush();
    await out.close();
    out = undefined;
    return { mode, format: vhdx ? 'vhdx' : 'raw', size, bytesCopied: copied };
  } catch (e) {
    if (out) await out.close().catch(() => {});
    rmSync(vmPath, { force: true });
    throw e;
  } finally {
    await src.close();
  }
}
