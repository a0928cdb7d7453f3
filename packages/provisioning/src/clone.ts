import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { type LongOperationOptions, UsageError } from '@lsvm/core';
import { convertFile, createVhdxFile, openVhdxFile } from '@lsvm/vhdx';
import { isVhdxPath } from './disk.js';

/**
 * Step 3 of provisioning: the VM's disk, made from the template without changing it.
 * `copy` streams the template's data into a new disk (a dynamic VHDX when the output name ends in
 * `.vhdx`, a sparse raw image otherwise; zero ranges are not written); `differencing` makes a VHDX child whose parent
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
  const vhdx = vmPath.toLowerCase().endsWith('.vhdx');
  try {
    // @lsvm/vhdx's converter: a raw or VHDX template (a differencing one flattened) into a sparse
    // raw image or a dynamic VHDX — unallocated and all-zero ranges skipped, a new VHDX's BAT
    // written once with the headers last, file-to-file copies through synchronous I/O (see
    // convertFile). No fsync here: the re-key, seal and file steps that follow write to the same
    // disk and flush it, which makes the copy durable with them, and a run that fails before then
    // removes the disk anyway.
    const stats = await convertFile(templatePath, vmPath, {
      to: vhdx ? 'vhdx' : 'raw',
      type: 'dynamic',
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return { mode, format: vhdx ? 'vhdx' : 'raw', size: stats.virtualSize, bytesCopied: stats.bytesWritten };
  } catch (e) {
    rmSync(vmPath, { force: true });
    throw e;
  }
}
