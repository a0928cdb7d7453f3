import { execFileSync } from 'node:child_process';
import { runOk } from '@lsvm/testkit';

/** Python (with python3-libvhdi) that prints a VHDX disk's contents through libvhdi. */
const PY_READ = `
import sys, pyvhdi
f = pyvhdi.file()
f.open(sys.argv[1])
parents = []
for p in sys.argv[2:]:
    pf = pyvhdi.file()
    pf.open(p)
    parents.append(pf)
cur = f
for pf in parents:
    cur.set_parent(pf)
    cur = pf
size = f.get_media_size()
off = 0
out = sys.stdout.buffer
while off < size:
    n = min(4 << 20, size - off)
    out.write(f.read_buffer_at_offset(n, off))
    off += n
`;

/** Reads a disk through libvhdi; `chain` lists the parent, grandparent… for differencing disks. */
export function libvhdiRead(path: string, chain: string[] = []): Buffer {
  return execFileSync('/usr/bin/python3', ['-c', PY_READ, path, ...chain], { maxBuffer: 1 << 30 });
}

/** True when the Python binding of libvhdi is importable. */
export function hasPyvhdi(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import pyvhdi'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** vhdiinfo's geometry fields. */
export function vhdiinfo(path: string): { mediaSize: number; bytesPerSector: number; diskType: string } {
  const out = runOk('vhdiinfo', [path]);
  const media = /Media size\s*:.*\((\d+) bytes\)/.exec(out);
  const bps = /Bytes per sector\s*:\s*(\d+)/.exec(out);
  const type = /Disk type\s*:\s*(\w+)/.exec(out);
  if (!media || !bps || !type) throw new Error(`cannot parse vhdiinfo output:\n${out}`);
  return { mediaSize: Number(media[1]), bytesPerSector: Number(bps[1]), diskType: type[1]!.toLowerCase() };
}
