import type { CliGroup, CliGroupEntry, LazyCliGroup } from '../group.js';
// group imports: one line per group, keep alphabetical

/**
 * Every group `lsvm --help` lists, in the order shown: the disk stack bottom-up, then trust, then
 * the flows. Groups are loaded only when the command line names them (see LazyCliGroup); the
 * description here is what the root help shows.
 */
const lazy = (name: string, description: string, load: () => Promise<CliGroup>): LazyCliGroup => ({
  name,
  description,
  load,
});

export const groups: CliGroupEntry[] = [
  lazy(
    'vhdx',
    'VHDX virtual disks: info, create, convert, check',
    async () => (await import('./vhdx.js')).vhdxGroup,
  ),
  lazy(
    'gpt',
    'GUID Partition Tables: show, verify, create, add, delete, resize, set, repair',
    async () => (await import('./gpt.js')).gptGroup,
  ),
  lazy(
    'luks',
    'LUKS1/LUKS2 containers: dump, format, unlock test, keyslots, decrypt, encrypt',
    async () => (await import('./luks.js')).luksGroup,
  ),
  lazy(
    'fat',
    'FAT12/16/32 file systems (the ESP): mkfs, info, ls, get, put, rm, mkdir, mv, check',
    async () => (await import('./fat.js')).fatGroup,
  ),
  lazy(
    'cpio',
    'cpio archives and initramfs images: ls, extract, add, rm, inject-keys',
    async () => (await import('./cpio.js')).cpioGroup,
  ),
  lazy(
    'vsc',
    'Volume Signature Catalogs: create, show, verify a signed catalog of a template disk',
    async () => (await import('./vsc.js')).vscGroup,
  ),
  lazy(
    'tpm2',
    'TPM 2.0: read PCRs, seal/unseal to PCR policies, policy digests, decode structures and response codes',
    async () => (await import('./tpm2.js')).tpm2Group,
  ),
  lazy(
    'pe',
    'PE/COFF images (EFI binaries): headers, sections, signatures, SBAT, checksum',
    async () => (await import('./pe.js')).peGroup,
  ),
  lazy(
    'authenticode',
    'Authenticode digests, signature verification, signing and signature removal',
    async () => (await import('./authenticode.js')).authenticodeGroup,
  ),
  lazy(
    'uefi',
    'UEFI Secure Boot databases: EFI_SIGNATURE_LIST and authenticated variables',
    async () => (await import('./uefi.js')).uefiGroup,
  ),
  lazy(
    'guardian',
    'guardians (signing + encryption certificates): new, show, export',
    async () => (await import('./guardian.js')).guardianGroup,
  ),
  lazy(
    'pdk',
    'shielding data files (.pdk): create, show, open, grant, revoke',
    async () => (await import('./pdk.js')).pdkGroup,
  ),
  lazy(
    'fsk',
    'specialization data files (.fsk): create, show',
    async () => (await import('./fsk.js')).fskGroup,
  ),
  lazy(
    'specialization',
    "lsvmload's specialization.aes: pack, unpack, show",
    async () => (await import('./specialization.js')).specializationGroup,
  ),
  lazy(
    'template',
    'Linux template disks: make a sample, check, protect (VSC), verify',
    async () => (await import('./template.js')).templateGroup,
  ),
  lazy(
    'provision',
    'provision a shielded VM disk from a protected template',
    async () => (await import('./provision.js')).provisionGroup,
  ),
  lazy(
    'boot',
    'boot a provisioned VM disk as lsvmload does: unlock, validate, apply a dbx update',
    async () => (await import('./boot.js')).bootGroup,
  ),
  // group entries: one line per group
  lazy(
    'demo',
    'run the end-to-end demonstration (no arguments needed)',
    async () => (await import('./demo.js')).demoGroup,
  ),
];
