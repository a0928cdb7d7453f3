/**
 * verify-boot-chain: Authenticode + db/dbx along a disk's boot chain, with @lsvm/pe-authenticode
 * directly — the ESP loader against db, shim (on the LUKS1 boot volume) against the Microsoft UEFI
 * CA or db, grub against shim's .vendor_cert or db; every binary against dbx; SBAT printed.
 * Usage: pnpm example verify-boot-chain <disk> [--passphrase P] (default: the template's "passphrase")
 */
import { FatFileSystem } from '@lsvm/fat';
import { partitionSlice, readGpt, usedPartitions } from '@lsvm/gpt';
import { openLuks, readLuks } from '@lsvm/luks2';
import {
  type Certificate,
  type SignatureDatabase,
  authenticodeDigest,
  findSection,
  parsePe,
  parseSbat,
  parseSignatureLists,
  sectionData,
  signatureDatabase,
  verifyImage,
} from '@lsvm/pe-authenticode';
import { defaultSecureBootVars, microsoftUefiCa2011, shimVendorTrust, withExtFs } from '@lsvm/provisioning';
import { openAnyDisk } from './open-disk.js';

export interface LinkResult {
  name: string;
  trusted: boolean;
  sha256: string;
  signers: string[];
  sbat: string[];
  why?: string;
}

function check(
  name: string,
  bytes: Uint8Array,
  trust: Certificate[],
  db: SignatureDatabase,
  dbx: SignatureDatabase,
): LinkResult {
  const v = verifyImage(bytes, { trust, db, dbx });
  const pe = parsePe(bytes);
  const sbat = findSection(pe, '.sbat');
  return {
    name,
    trusted: v.trusted,
    sha256: Buffer.from(authenticodeDigest(bytes, { algorithm: 'sha256' })).toString('hex'),
    signers: v.signatures.filter((s) => s.trusted).map((s) => `${s.signer?.subject} → ${s.anchor?.subject}`),
    sbat: sbat ? parseSbat(sectionData(bytes, sbat)).map((e) => `${e.component},${e.generation}`) : [],
    ...(v.trusted
      ? {}
      : { why: v.forbidden ? `revoked by dbx (${v.forbidden.detail})` : (v.reason?.message ?? 'untrusted') }),
  };
}

export async function verify(
  path: string,
  passphrase = 'passphrase',
  dbxExtra?: Uint8Array,
): Promise<LinkResult[]> {
  const vars = defaultSecureBootVars(); // the Secure Boot state lsvm provisions against by default
  const db = signatureDatabase(parseSignatureLists(vars.db));
  const dbx = signatureDatabase(
    parseSignatureLists(dbxExtra ? new Uint8Array([...vars.dbx, ...dbxExtra]) : vars.dbx),
  );
  const disk = await openAnyDisk(path);
  try {
    const { table } = await readGpt(disk);
    const parts = usedPartitions(table);
    const esp = parts.find((e) => e.typeGuid === 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
    if (!esp) throw new Error('no EFI System Partition');
    const fat = await FatFileSystem.open(partitionSlice(disk, table, esp.index, { readOnly: true }), {
      readOnly: true,
    });
    const loader = await fat.readFile('/EFI/boot/bootx64.efi');
    await fat.close();
    const results = [check('bootx64.efi', loader, [], db, dbx)];
    for (const e of parts) {
      const dev = partitionSlice(disk, table, e.index, { readOnly: true });
      const luks = await readLuks(dev).catch(() => undefined);
      if (luks?.version !== 1) continue; // lsvmload's boot volume is the LUKS1 one
      const plain = await openLuks(dev, new TextEncoder().encode(passphrase), { readOnly: true });
      await withExtFs(plain, async (fs) => {
        const shim = await fs.readFile('/lsvmload/shimx64.efi');
        const grub = await fs.readFile('/lsvmload/grubx64.efi');
        results.push(check('shimx64.efi', shim, [microsoftUefiCa2011()], db, dbx));
        // shim's .vendor_cert: one certificate or a vendor_db signature list, read as shim reads it.
        results.push(check('grubx64.efi', grub, shimVendorTrust(shim).certificates, db, dbx));
      });
      await plain.close();
    }
    return results;
  } finally {
    await disk.close();
  }
}

export async function main(args: string[]): Promise<string[]> {
  if (!args[0]) throw new Error('usage: verify-boot-chain <disk> [--passphrase P]');
  const i = args.indexOf('--passphrase');
  const r = await verify(args[0], i >= 0 ? args[i + 1] : undefined);
  return r.flatMap((l) => [
    `${l.trusted ? 'trusted  ' : 'REJECTED '} ${l.name}  sha256 ${l.sha256}`,
    ...l.signers.map((s) => `           signed by ${s}`),
    ...(l.sbat.length > 0 ? [`           SBAT ${l.sbat.join(' ')}`] : []),
    ...(l.why ? [`           ${l.why}`] : []),
  ]);
}
