import { isLsvmError } from '@lsvm/core';
import {
  type Certificate,
  type DbxMatch,
  type SbatEntry,
  type SignatureDatabase,
  authenticodeDigest,
  extractVendorCert,
  findSection,
  parseCertificate,
  parsePe,
  parseSbat,
  parseSignatureLists,
  sectionData,
  signatureDatabase,
  verifyImage,
} from '@lsvm/pe-authenticode';
import { microsoftUefiCa2011 } from './microsoft-ca.js';

/**
 * Verification of the boot chain lsvmload starts: the ESP loader (bootx64.efi) as firmware
 * verifies it (db/dbx), shim as lsvmload verifies it before handing over (Microsoft UEFI CA or a
 * configured db, and dbx), and grub as shim verifies it (shim's built-in `.vendor_cert`, or db;
 * firmware dbx plus shim's vendor dbx). SBAT entries of each binary are reported.
 */

/** The three binaries; any may be missing (reported as such). */
export interface BootChainInput {
  loader?: Uint8Array;
  shim?: Uint8Array;
  grub?: Uint8Array;
  /** Anchors for the loader (`--trust`); db's certificates are always anchors too. */
  loaderTrust?: Certificate[];
  /** Anchors for shim; default the Microsoft UEFI CA 2011. db's certificates are anchors too. */
  shimTrust?: Certificate[];
  db?: SignatureDatabase;
  dbx?: SignatureDatabase;
}

/** The verdict on one binary. */
export interface ChainLink {
  name: 'loader' | 'shim' | 'grub';
  present: boolean;
  trusted: boolean;
  /** SHA-256 Authenticode digest, hex (what db/dbx list). */
  sha256?: string;
  /** Subject of each trusted signer and the anchor it chained to. */
  signers: { subject: string; anchor?: string; trusted: boolean }[];
  /** Set when dbx forbids the binary. */
  revoked?: DbxMatch;
  /** Why it is not trusted. */
  reason?: { code: string; message: string };
  sbat: SbatEntry[];
  /** For grub: what it was checked against. */
  anchors?: string;
}

/** The whole chain: trusted when every link is present and trusted. */
export interface BootChainResult {
  trusted: boolean;
  links: ChainLink[];
}

function sbatOf(bytes: Uint8Array): SbatEntry[] {
  try {
    const pe = parsePe(bytes);
    const s = findSection(pe, '.sbat');
    return s ? parseSbat(sectionData(bytes, s)) : [];
  } catch (e) {
    if (isLsvmError(e)) return [];
    throw e;
  }
}

/** Verifies one binary and describes the result. */
export function verifyLink(
  name: ChainLink['name'],
  bytes: Uint8Array | undefined,
  trust: Certificate[],
  db: SignatureDatabase | undefined,
  dbx: SignatureDatabase | undefined,
): ChainLink {
  if (!bytes)
    return {
      name,
      present: false,
      trusted: false,
      signers: [],
      sbat: [],
      reason: { code: 'BOOT_CHAIN_MISSING', message: `${name} is missing` },
    };
  let sha256: string | undefined;
  try {
    sha256 = Buffer.from(authenticodeDigest(bytes, { algorithm: 'sha256' })).toString('hex');
    const v = verifyImage(bytes, { trust, ...(db ? { db } : {}), ...(dbx ? { dbx } : {}) });
    const link: ChainLink = {
      name,
      present: true,
      trusted: v.trusted,
      sha256,
      signers: v.signatures
        .filter((s) => s.signer)
        .map((s) => ({
          subject: s.signer!.subject,
          trusted: s.trusted,
          ...(s.anchor ? { anchor: s.anchor.subject } : {}),
        })),
      sbat: sbatOf(bytes),
    };
    if (v.forbidden) link.revoked = v.forbidden;
    if (!v.trusted) {
      const first = v.reason ?? v.signatures.flatMap((s) => s.failures)[0];
      link.reason = v.forbidden
        ? {
            code: 'BOOT_CHAIN_REVOKED',
            message: `${name} is revoked by dbx (${v.forbidden.by} ${v.forbidden.detail})`,
          }
        : {
            code: first?.code ?? 'UNSIGNED',
            message: `${name}: ${first?.message ?? 'no trusted signature'}`,
          };
    }
    return link;
  } catch (e) {
    if (!isLsvmError(e)) throw e;
    return {
      name,
      present: true,
      trusted: false,
      ...(sha256 ? { sha256 } : {}),
      signers: [],
      sbat: [],
      reason: { code: e.code, message: `${name}: ${e.message}` },
    };
  }
}

/** Certificates and forbidden entries shim carries for what it loads (`.vendor_cert`). */
export function shimVendorTrust(shim: Uint8Array): { certificates: Certificate[]; dbx?: SignatureDatabase } {
  try {
    const v = extractVendorCert(shim, parsePe(shim));
    if (!v) return { certificates: [] };
    const certificates: Certificate[] = [];
    if (v.authorized.length > 0) {
      // Either one DER certificate or an EFI_SIGNATURE_LIST buffer (shim's vendor_db).
      if (v.authorized[0] === 0x30) certificates.push(parseCertificate(v.authorized));
      else certificates.push(...signatureDatabase(parseSignatureLists(v.authorized)).certificates);
    }
    const dbx =
      v.deauthorized.length > 0 ? signatureDatabase(parseSignatureLists(v.deauthorized)) : undefined;
    return { certificates, ...(dbx ? { dbx } : {}) };
  } catch (e) {
    if (isLsvmError(e)) return { certificates: [] };
    throw e;
  }
}

function mergeDbx(
  a: SignatureDatabase | undefined,
  b: SignatureDatabase | undefined,
): SignatureDatabase | undefined {
  if (!a) return b;
  if (!b) return a;
  const merge = (x: Map<string, Set<string>>, y: Map<string, Set<string>>): Map<never, Set<string>> => {
    const m = new Map<string, Set<string>>();
    for (const src of [x, y]) for (const [k, v] of src) m.set(k, new Set([...(m.get(k) ?? []), ...v]));
    return m as Map<never, Set<string>>;
  };
  return {
    certificates: [...a.certificates, ...b.certificates],
    hashes: merge(a.hashes, b.hashes),
    tbsHashes: merge(a.tbsHashes, b.tbsHashes),
    ignored: a.ignored + b.ignored,
  };
}

/** Verifies loader, shim and grub as described in the module comment. */
export function verifyBootChain(input: BootChainInput): BootChainResult {
  const loader = verifyLink('loader', input.loader, input.loaderTrust ?? [], input.db, input.dbx);
  const shim = verifyLink(
    'shim',
    input.shim,
    input.shimTrust ?? [microsoftUefiCa2011()],
    input.db,
    input.dbx,
  );
  let grub: ChainLink;
  if (input.shim) {
    const vendor = shimVendorTrust(input.shim);
    grub = verifyLink('grub', input.grub, vendor.certificates, input.db, mergeDbx(input.dbx, vendor.dbx));
    grub.anchors =
      vendor.certificates.length > 0
        ? `shim .vendor_cert (${vendor.certificates.map((c) => c.subject).join('; ')})${input.db ? ' and db' : ''}`
        : 'db (shim has no .vendor_cert)';
  } else grub = verifyLink('grub', input.grub, [], input.db, input.dbx);
  const links = [loader, shim, grub];
  return { trusted: links.every((l) => l.trusted), links };
}
