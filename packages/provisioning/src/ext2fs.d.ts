// Minimal typings of the npm package `ext2fs` (libext2fs compiled to WebAssembly), for the calls
// lsvm makes. Its fs object mirrors node's fs.promises.
declare module 'ext2fs' {
  export interface Ext2Disk {
    read(buffer: Uint8Array, bufferOffset: number, length: number, fileOffset: number): Promise<unknown>;
    write(buffer: Uint8Array, bufferOffset: number, length: number, fileOffset: number): Promise<unknown>;
    discard(offset: number, length: number): Promise<unknown>;
    flush(): Promise<unknown>;
  }
  export interface Ext2Stats {
    mode: number;
    size: number;
    uid: number;
    gid: number;
    isDirectory(): boolean;
    isFile(): boolean;
    isSymbolicLink(): boolean;
  }
  export interface Ext2FileHandle {
    readonly fd: number;
    close(): void;
  }
  export interface Ext2Promises {
    open(path: string, flags: string | number, mode?: number): Promise<Ext2FileHandle>;
    close(fd: number): Promise<void>;
    read(
      fd: number,
      buffer: Buffer,
      offset: number,
      length: number,
      position: number,
    ): Promise<{ bytesRead: number }>;
    fstat(fd: number): Promise<Ext2Stats>;
    writeFile(path: string, data: Uint8Array, options?: { mode?: number }): Promise<void>;
    mkdir(path: string, options?: { mode?: number }): Promise<void>;
    readdir(path: string): Promise<string[]>;
    unlink(path: string): Promise<void>;
    rmdir(path: string): Promise<void>;
    stat(path: string): Promise<Ext2Stats>;
    lstat(path: string): Promise<Ext2Stats>;
    chmod(path: string, mode: number): Promise<void>;
    symlink(target: string, path: string): Promise<void>;
    rename(from: string, to: string): Promise<void>;
  }
  export interface Ext2Fs {
    promises: Ext2Promises;
  }
  export function mount(disk: Ext2Disk, offset?: number): Promise<Ext2Fs>;
  export function umount(fs: Ext2Fs): Promise<void>;
}
