import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BlockDevice, FileDevice, IoError, UnsupportedError, forEachChunk } from '@lsvm/core';
import * as ext2fs from 'ext2fs';

/**
 * ext2/3/4 file systems on any {@link BlockDevice}, through libext2fs compiled to WebAssembly (the
 * npm package `ext2fs`). The boot and root volumes of a Linux template are ext file systems inside
 * LUKS: this adapter lets the flows read and write files in them through the decrypted LUKS
 * BlockDevice, with no mount, no loop device and no device-mapper.
 */

/** File operations on a mounted ext file system (paths are absolute, `/`-separated). */
export interface ExtFs {
  readFile(path: string): Promise<Uint8Array>;
  writeFile(path: string, data: Uint8Array, mode?: number): Promise<void>;
  /** Creates a directory and any missing parents. */
  mkdirp(path: string, mode?: number): Promise<void>;
  readdir(path: string): Promise<string[]>;
  exists(path: string): Promise<boolean>;
  unlink(path: string): Promise<void>;
  stat(path: string): Promise<{ mode: number; size: number; isDirectory: boolean }>;
}

/**
 * libext2fs's disk interface over a BlockDevice. libext2fs writes even when only reading (atime,
 * the superblock's mount time), so on a read-only device writes go to an in-memory copy-on-write
 * overlay of 4 KiB blocks and never reach the device.
 */
class BlockDeviceDisk implements ext2fs.Ext2Disk {
  private readonly overlay: Map<number, Uint8Array> | undefined;
  private static readonly B = 4096;

  constructor(private readonly dev: BlockDevice) {
    this.overlay = dev.readOnly ? new Map() : undefined;
  }

  async read(
    buffer: Uint8Array,
    bufferOffset: number,
    length: number,
    fileOffset: number,
  ): Promise<{ bytesRead: number }> {
    const target = buffer.subarray(bufferOffset, bufferOffset + length);
    await this.dev.readInto(target, fileOffset);
    if (this.overlay && this.overlay.size > 0) this.applyOverlay(target, fileOffset);
    return { bytesRead: length };
  }

  async write(
    buffer: Uint8Array,
    bufferOffset: number,
    length: number,
    fileOffset: number,
  ): Promise<{ bytesWritten: number }> {
    const data = buffer.subarray(bufferOffset, bufferOffset + length);
    if (!this.overlay) {
      await this.dev.write(fileOffset, data);
      return { bytesWritten: length };
    }
    const B = BlockDeviceDisk.B;
    for (let off = fileOffset; off < fileOffset + length; ) {
      const blk = Math.floor(off / B);
      const inBlk = off - blk * B;
      const n = Math.min(B - inBlk, fileOffset + length - off);
      let page = this.overlay.get(blk);
      if (!page) {
        page = new Uint8Array(B);
        const avail = Math.min(B, this.dev.size - blk * B);
        if (avail > 0) await this.dev.readInto(page.subarray(0, avail), blk * B);
        this.overlay.set(blk, page);
      }
      page.set(data.subarray(off - fileOffset, off - fileOffset + n), inBlk);
      off += n;
    }
    return { bytesWritten: length };
  }

  private applyOverlay(target: Uint8Array, fileOffset: number): void {
    const B = BlockDeviceDisk.B;
    const end = fileOffset + target.length;
    for (let blk = Math.floor(fileOffset / B); blk * B < end; blk++) {
      const page = this.overlay!.get(blk);
      if (!page) continue;
      const from = Math.max(fileOffset, blk * B);
      const to = Math.min(end, (blk + 1) * B);
      target.set(page.subarray(from - blk * B, to - blk * B), from - fileOffset);
    }
  }

  async discard(): Promise<void> {
    // Advisory; the encrypted layers below must not be asked to zero ranges.
  }

  async flush(): Promise<void> {
    if (!this.overlay) await this.dev.flush();
  }
}

function wrap(p: ext2fs.Ext2Promises): ExtFs {
  const exists = async (path: string): Promise<boolean> => {
    try {
      await p.lstat(path);
      return true;
    } catch {
      return false;
    }
  };
  return {
    // Not p.readFile: it always decodes to a UTF-8 string, which is not binary-safe.
    readFile: async (path) => {
      const h = await p.open(path, 'r');
      try {
        const st = await p.fstat(h.fd);
        if (!st.isFile()) throw new IoError('EXT_NOT_A_FILE', `${path} is not a regular file`);
        const out = Buffer.alloc(st.size);
        let done = 0;
        while (done < out.length) {
          const { bytesRead } = await p.read(h.fd, out.subarray(done), 0, out.length - done, done);
          if (bytesRead <= 0)
            throw new IoError('EXT_SHORT_READ', `${path}: read stopped at ${done} of ${out.length} bytes`);
          done += bytesRead;
        }
        return new Uint8Array(out.buffer, out.byteOffset, out.length);
      } finally {
        await p.close(h.fd);
      }
    },
    writeFile: async (path, data, mode = 0o644) => {
      // libext2fs's writeFile ignores the mode of a new file (it applies 0666): set it explicitly.
      // It also stringifies a plain Uint8Array ("60,117,…"): hand it a Buffer view.
      await p.writeFile(path, Buffer.from(data.buffer, data.byteOffset, data.byteLength), { mode });
      await p.chmod(path, mode);
    },
    mkdirp: async (path, mode = 0o755) => {
      let cur = '';
      for (const part of path.split('/').filter(Boolean)) {
        cur += `/${part}`;
        if (!(await exists(cur))) {
          await p.mkdir(cur, { mode });
          await p.chmod(cur, mode);
        }
      }
    },
    readdir: (path) => p.readdir(path),
    exists,
    unlink: (path) => p.unlink(path),
    stat: async (path) => {
      const s = await p.stat(path);
      return { mode: s.mode, size: s.size, isDirectory: s.isDirectory() };
    },
  };
}

/**
 * Mounts the ext file system on `dev`, runs `fn`, and unmounts (flushing every change) whether
 * `fn` succeeds or throws.
 */
export async function withExtFs<T>(dev: BlockDevice, fn: (fs: ExtFs) => Promise<T>): Promise<T> {
  let fs: ext2fs.Ext2Fs;
  try {
    fs = await ext2fs.mount(new BlockDeviceDisk(dev));
  } catch (e) {
    throw new IoError('EXT_MOUNT_FAILED', `not a mountable ext2/3/4 file system: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    return await fn(wrap(fs.promises));
  } finally {
    await ext2fs.umount(fs);
    if (!dev.readOnly) await dev.flush();
  }
}

/** Options of {@link mkfsExt}. */
export interface MkfsExtOptions {
  type: 'ext2' | 'ext3' | 'ext4';
  label?: string;
  /** Path of mke2fs (default: found on PATH, /sbin and /usr/sbin). */
  mke2fs?: string;
  /**
   * The device already reads as zeros (a fresh sparse file, not an encrypted volume): all-zero
   * chunks are then skipped. Never set it for a LUKS device — its unwritten sectors decrypt to noise.
   */
  assumeZeroed?: boolean;
}

/**
 * Creates an empty ext file system on `dev` with e2fsprogs' mke2fs (part of every Debian/Ubuntu
 * base system): mke2fs writes a sparse image file of the device's size, whose non-zero 1 MiB
 * chunks are then copied onto the device. Going through a file keeps mke2fs's own layout choices
 * (the reference for ext) and works on any BlockDevice, encrypted ones included.
 */
export async function mkfsExt(dev: BlockDevice, options: MkfsExtOptions): Promise<void> {
  const mke2fs = options.mke2fs ?? findTool('mke2fs');
  if (!mke2fs) throw new UnsupportedError('MKE2FS_MISSING', 'mke2fs not found (install e2fsprogs)');
  const dir = mkdtempSync(join(tmpdir(), 'lsvm-mkfs-'));
  const img = join(dir, 'fs.img');
  try {
    const args = [
      '-q',
      '-F',
      '-t',
      options.type,
      '-E',
      'lazy_itable_init=0,lazy_journal_init=0',
      '-b',
      '4096',
    ];
    if (options.label) args.push('-L', options.label);
    args.push(img, `${Math.floor(dev.size / 1024)}k`);
    const r = spawnSync(mke2fs, args, {
      encoding: 'utf8',
      env: { ...process.env, MKE2FS_DEVICE_SECTSIZE: '512' },
    });
    if (r.status !== 0) throw new IoError('MKE2FS_FAILED', `mke2fs failed: ${r.stderr || r.stdout}`);
    const src = await FileDevice.open(img);
    try {
      await forEachChunk(
        src,
        async (chunk, offset) => {
          if (options.assumeZeroed && isZero(chunk)) return;
          await dev.write(offset, chunk);
        },
        { chunkSize: 1 << 20, end: Math.min(src.size, dev.size) },
      );
    } finally {
      await src.close();
    }
    await dev.flush();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function isZero(b: Uint8Array): boolean {
  const w = new BigUint64Array(b.buffer, b.byteOffset, b.length >>> 3);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0n) return false;
  for (let i = w.length << 3; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function findTool(name: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/sbin', '/usr/sbin'])) {
    if (!d) continue;
    const r = spawnSync('test', ['-x', join(d, name)]);
    if (r.status === 0) return join(d, name);
  }
  return undefined;
}
