import {
  type BlockDevice,
  FileDevice,
  FormatError,
  IoError,
  LimitError,
  type LongOperationOptions,
  UsageError,
} from '@lsvm/core';
import {
  type ConvertOptions,
  type ConvertStats,
  type ConvertToVhdxOptions,
  convertToRaw,
  convertToVhdx,
} from './convert.js';
import { createVhdx, resolveCreate, type VhdxCreateOptions } from './create.js';
import { type LayoutPlan, planLayout } from './layout-plan.js';
import { resolveVhdxLimits, type VhdxLimits } from './limits.js';
import { type ParentLocator, parentPathCandidates } from './parent-locator.js';
import { SyncFile } from './sync-file.js';
import { VhdxDevice, type VhdxOpenOptions } from './vhdx-device.js';

/**
 * File-path entry points (Node only: they load node:fs and node:path lazily so the rest of the
 * package stays usable in browsers and fuzzers).
 */

/** Options of {@link openVhdxFile}. */
export interface VhdxFileOpenOptions extends Omit<VhdxOpenOptions, 'parent' | 'ownsFile'> {
  /** Use this file as the parent instead of following the parent locator. */
  parentPath?: string;
  /**
   * Read-only opens only: hold regular files through {@link SyncFile} (synchronous I/O behind the
   * asynchronous API), so `VhdxDevice.syncReader` can serve a converter without a promise per
   * chunk. Every read then blocks the event loop for its duration, which a one-shot conversion
   * does not mind and a server would; off by default.
   */
  syncIo?: boolean;
}

/**
 * Opens a VHDX file by path. A differencing disk's parent is found through its parent locator
 * (`relative_path` next to the child, then `volume_path`, then `absolute_win32_path`, backslashes
 * turned into slashes), recursively, with cycle detection and a depth limit. Parents are always
 * opened read-only. Closing the device closes the whole chain.
 */
export async function openVhdxFile(path: string, options: VhdxFileOpenOptions = {}): Promise<VhdxDevice> {
  return openChain(path, options, new Set(), 0);
}

async function openChain(
  path: string,
  options: VhdxFileOpenOptions,
  visited: Set<string>,
  depth: number,
): Promise<VhdxDevice> {
  const { realpath } = await import('node:fs/promises');
  const limits = resolveVhdxLimits(options.limits);
  if (depth > limits.maxChainDepth) {
    throw new LimitError(
      'VHDX_CHAIN_TOO_DEEP',
      `the differencing chain is deeper than ${limits.maxChainDepth}`,
    );
  }
  let real: string;
  try {
    real = await realpath(path);
  } catch (e) {
    throw new IoError('OPEN_FAILED', `cannot open ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (visited.has(real)) {
    throw new FormatError('VHDX_PARENT_CYCLE', `the differencing chain loops back to ${path}`, {
      structure: 'VHDX parent locator',
    });
  }
  visited.add(real);
  const readOnly = options.readOnly ?? true;
  const file: BlockDevice =
    (readOnly && options.syncIo ? await SyncFile.openRegular(path) : undefined) ??
    (await FileDevice.open(path, { readOnly }));
  try {
    return await VhdxDevice.open(file, {
      ...options,
      readOnly,
      ownsFile: true,
      resolveParent: async (loc) =>
        openChain(
          options.parentPath ?? (await findParent(path, loc)),
          { ...options, readOnly: true, parentPath: undefined },
          visited,
          depth + 1,
        ),
    });
  } catch (e) {
    await file.close();
    throw e;
  }
}

/** Resolves a parent locator to an existing file, trying the candidates in order. */
export async function findParent(childPath: string, loc: ParentLocator | undefined): Promise<string> {
  const { access } = await import('node:fs/promises');
  const { dirname, isAbsolute, resolve } = await import('node:path');
  const tried: string[] = [];
  for (const c of loc ? parentPathCandidates(loc) : []) {
    const p = isAbsolute(c.path) ? c.path : resolve(dirname(childPath), c.path);
    tried.push(p);
    try {
      await access(p);
      return p;
    } catch {
      // try the next candidate
    }
  }
  throw new IoError(
    'VHDX_PARENT_NOT_FOUND',
    `parent of ${childPath} not found (tried ${tried.length > 0 ? tried.join(', ') : 'no locator path'})`,
  );
}

/** Options of {@link createVhdxFile}. */
export interface VhdxFileCreateOptions extends Omit<VhdxCreateOptions, 'parent'> {
  /** Make a differencing child of this VHDX file. */
  parentPath?: string;
}

/** Creates a VHDX file at `path` (replacing it). See {@link createVhdx}. */
export async function createVhdxFile(path: string, options: VhdxFileCreateOptions): Promise<LayoutPlan> {
  let parentInfo: VhdxCreateOptions['parent'];
  if (options.parentPath) {
    const { dirname, relative, resolve } = await import('node:path');
    const parent = await openVhdxFile(options.parentPath);
    try {
      const info = parent.info();
      const abs = resolve(options.parentPath);
      let rel = relative(dirname(resolve(path)), abs);
      if (!rel.startsWith('.')) rel = `./${rel}`;
      parentInfo = {
        dataWriteGuid: parent.dataWriteGuid,
        size: info.virtualSize,
        logicalSectorSize: info.logicalSectorSize,
        physicalSectorSize: info.physicalSectorSize,
        blockSize: info.blockSize,
        // Stored Windows style, as Hyper-V writes them; readers turn backslashes back into slashes.
        relativePath: rel.replace(/\//g, '\\'),
        absoluteWin32Path: abs.replace(/\//g, '\\'),
      };
    } finally {
      await parent.close();
    }
  }
  // Validate the parameters before touching the file, so a bad option leaves nothing behind.
  const resolved = resolveCreate({ ...options, parent: parentInfo });
  planLayout({ ...resolved, hasParent: parentInfo !== undefined });
  // Emptied by createVhdx only if needed (see emptyOutput in convert.ts).
  const file = await FileDevice.open(path, { create: true });
  try {
    return await createVhdx(file, { ...options, parent: parentInfo });
  } finally {
    await file.close();
  }
}

/**
 * True when `b` names the file `a` names: the same path, or — through a symbolic link, a hard link
 * or a bind mount — the same device and inode. The output is emptied before it is written, so
 * comparing path strings alone would let a link to the input destroy it.
 */
async function sameFile(a: string, b: string): Promise<boolean> {
  const { resolve } = await import('node:path');
  if (resolve(a) === resolve(b)) return true;
  const { stat } = await import('node:fs/promises');
  const sb = await stat(b).catch(() => undefined);
  if (!sb) return false; // a new output cannot be the input
  const sa = await stat(a).catch(() => undefined);
  return sa !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

/** Options of {@link convertFile}. */
export interface ConvertFileOptions extends ConvertToVhdxOptions, ConvertOptions, LongOperationOptions {
  /** Reader limits for a VHDX input. */
  limits?: Partial<VhdxLimits>;
  /** Output format; default from the output's extension (`.vhdx` → vhdx, anything else → raw). */
  to?: 'raw' | 'vhdx';
  /** Input format; default from the input's first bytes ("vhdxfile" → vhdx, else raw). */
  from?: 'raw' | 'vhdx';
}

/**
 * Converts between raw and VHDX files, streaming. Differencing inputs are flattened.
 *
 * A raw input that is a regular file is read, and the output written, through {@link SyncFile}'s
 * synchronous I/O (see there for why that is about twice as fast); so is a VHDX input whose
 * payload can be read synchronously (`VhdxDevice.syncReader`: no parent, no log replay in memory,
 * no partially present block). Other VHDX inputs and block devices go through `FileDevice`.
 */
export async function convertFile(
  input: string,
  output: string,
  options: ConvertFileOptions = {},
): Promise<ConvertStats> {
  const to = options.to ?? (output.toLowerCase().endsWith('.vhdx') ? 'vhdx' : 'raw');
  if (await sameFile(input, output)) {
    throw new UsageError('VHDX_SAME_FILE', 'the output would overwrite the input: convert into a new file');
  }
  const inFile: BlockDevice = (await SyncFile.openRegular(input)) ?? (await FileDevice.open(input));
  let source: BlockDevice = inFile;
  try {
    let from = options.from;
    if (!from) {
      const magic = inFile.size >= 8 ? await inFile.read(0, 8) : new Uint8Array(0);
      from = new TextDecoder().decode(magic) === 'vhdxfile' ? 'vhdx' : 'raw';
    }
    if (from === 'vhdx') {
      await inFile.close();
      source = await openVhdxFile(input, { limits: options.limits ?? {}, syncIo: true });
    }
  } catch (e) {
    await source.close();
    throw e;
  }
  try {
    const out =
      source instanceof SyncFile || (source instanceof VhdxDevice && source.syncReader() !== undefined)
        ? await SyncFile.create(output)
        : // Emptied by the converter only if needed (see emptyOutput in convert.ts).
          await FileDevice.open(output, { create: true });
    try {
      return to === 'vhdx'
        ? await convertToVhdx(source, out, options)
        : await convertToRaw(source, out, options);
    } finally {
      await out.close();
    }
  } finally {
    await source.close();
  }
}
