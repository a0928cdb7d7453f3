import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError, UsageError, guidToBytes, isLsvmError, toHex } from '@lsvm/core';
import {
  type SignatureData,
  authenticodeDigest,
  buildSignatureList,
  parseCertificate,
  parseSignatureLists,
  verifyImage,
} from '@lsvm/pe-authenticode';
import {
  EFI_GLOBAL_VARIABLE,
  EFI_IMAGE_SECURITY_DATABASE,
  LSVMLOAD_PCR,
  PcrBank,
  TPM_ALG,
  extendLsvmloadScenario,
  uefiVariableData,
} from '@lsvm/tpm2-marshal';
import { TEST_DB_CERT_BASE64, TEST_KEK_CERT_BASE64, TEST_PK_CERT_BASE64 } from './test-keys.js';

/**
 * The VM's Secure Boot state, which firmware measures into PCR 7 and which the sealed keys are
 * bound to. Provisioning predicts PCR 7 offline from it (TCG PC Client Platform Firmware Profile
 * §3.3.4.8 and §10.4.4): one EV_EFI_VARIABLE_DRIVER_CONFIG event per variable — SecureBoot, PK,
 * KEK, db, dbx in that order, each the SHA-256 of a UEFI_VARIABLE_DATA — then the EV_SEPARATOR
 * (four zero bytes) and, with Secure Boot on, one EV_EFI_VARIABLE_AUTHORITY event: the db entry
 * (EFI_SIGNATURE_DATA: owner GUID + certificate or hash) that verified the first loaded image,
 * lsvmload, as lsvmload's own policy expects.
 */

/** The variable contents (EFI_SIGNATURE_LIST sequences, as stored in the variables) and SecureBoot. */
export interface SecureBootVars {
  /** SecureBoot variable value: 1 on, 0 off. */
  secureBoot: number;
  PK: Uint8Array;
  KEK: Uint8Array;
  db: Uint8Array;
  dbx: Uint8Array;
}

/** SignatureOwner GUID of every entry of the default set. */
export const LSVM_TEST_OWNER_GUID = '6c73766d-7465-4073-b400-000000000001';

const b64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));
const x509List = (der: Uint8Array): Uint8Array =>
  buildSignatureList({ type: 'x509', signatures: [{ owner: LSVM_TEST_OWNER_GUID, data: der }] });

/**
 * The fixed default set: Secure Boot on, PK/KEK/db the package's public test certificates
 * (test-keys.ts), dbx one SHA-256 entry (the digest of the text "lsvm test dbx entry", which
 * matches no image). Identical on every call.
 */
export function defaultSecureBootVars(): SecureBootVars {
  const dbxHash = createHash('sha256').update('lsvm test dbx entry').digest();
  return {
    secureBoot: 1,
    PK: x509List(b64(TEST_PK_CERT_BASE64)),
    KEK: x509List(b64(TEST_KEK_CERT_BASE64)),
    db: x509List(b64(TEST_DB_CERT_BASE64)),
    dbx: buildSignatureList({
      type: 'sha256',
      signatures: [{ owner: LSVM_TEST_OWNER_GUID, data: new Uint8Array(dbxHash) }],
    }),
  };
}

/** File names in a `--secure-boot-vars` directory. */
export const SECURE_BOOT_VAR_FILES = ['SecureBoot', 'PK', 'KEK', 'db', 'dbx'] as const;

/** Attribute values a Secure Boot variable has: BS|RT (SecureBoot), NV|BS|RT, + time-based auth. */
const EFIVAR_ATTRIBUTES = new Set([0x06, 0x07, 0x26, 0x27]);

/**
 * Strips the 4-byte attribute prefix efivarfs puts in front of a variable's data (what
 * `cat /sys/firmware/efi/efivars/db-…` gives). Called only when the bytes do not parse as they
 * are (a SecureBoot file longer than one byte, a list that does not parse).
 */
function stripEfivarfsAttributes(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 4) return bytes;
  const attr = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  return EFIVAR_ATTRIBUTES.has(attr) ? bytes.subarray(4) : bytes;
}

/**
 * Reads a directory holding `SecureBoot` (one byte), `PK`, `KEK`, `db` and `dbx` (signature list
 * contents; an empty file is an empty variable). Each list is parsed, so a malformed one is
 * reported here rather than silently predicting a wrong PCR 7.
 */
export function readSecureBootVarsDir(dir: string): SecureBootVars {
  const read = (name: string): Uint8Array => {
    try {
      return new Uint8Array(readFileSync(join(dir, name)));
    } catch (e) {
      throw new UsageError('SB_VARS_MISSING', `${join(dir, name)}: ${(e as Error).message}`);
    }
  };
  let sb = read('SecureBoot');
  if (sb.length === 5) sb = stripEfivarfsAttributes(sb);
  if (sb.length !== 1 || sb[0]! > 1)
    throw new FormatError('SB_VARS_INVALID', 'SecureBoot must hold one byte, 0 or 1', {
      structure: 'SecureBoot',
    });
  const lists: Record<'PK' | 'KEK' | 'db' | 'dbx', Uint8Array> = {
    PK: new Uint8Array(0),
    KEK: new Uint8Array(0),
    db: new Uint8Array(0),
    dbx: new Uint8Array(0),
  };
  for (const name of ['PK', 'KEK', 'db', 'dbx'] as const) {
    let bytes = read(name);
    if (bytes.length > 0) {
      try {
        parseSignatureLists(bytes);
      } catch {
        bytes = stripEfivarfsAttributes(bytes);
      }
      try {
        parseSignatureLists(bytes);
      } catch (e) {
        throw new FormatError(
          'SB_VARS_INVALID',
          `${name} is not a sequence of EFI_SIGNATURE_LISTs: ${(e as Error).message}`,
          { structure: name },
        );
      }
    }
    lists[name] = bytes;
  }
  return { secureBoot: sb[0]!, ...lists };
}

/** The db entry that verifies an image, as measured in EV_EFI_VARIABLE_AUTHORITY. */
export interface LoaderAuthority {
  /** The entry: owner GUID and data (certificate DER or image hash). */
  entry: SignatureData;
  kind: 'certificate' | 'hash';
  /** Certificate subject, for reports. */
  subject?: string;
}

/**
 * Finds the db entry that lets firmware run `loader`: the first certificate entry a signature of
 * the image chains to, else an EFI_CERT_SHA256 entry equal to its Authenticode digest. Undefined
 * when db does not allow the image (or the image is not a PE).
 */
export function findLoaderAuthority(vars: SecureBootVars, loader: Uint8Array): LoaderAuthority | undefined {
  if (vars.db.length === 0) return undefined;
  const lists = parseSignatureLists(vars.db);
  try {
    for (const l of lists) {
      if (l.typeName !== 'x509') continue;
      for (const s of l.signatures) {
        let cert: ReturnType<typeof parseCertificate>;
        try {
          cert = parseCertificate(s.data);
        } catch {
          continue;
        }
        if (verifyImage(loader, { trust: [cert] }).trusted)
          return { entry: s, kind: 'certificate', subject: cert.subject };
      }
    }
    const digest = toHex(authenticodeDigest(loader, { algorithm: 'sha256' }));
    for (const l of lists) {
      if (l.typeName !== 'sha256') continue;
      for (const s of l.signatures) if (toHex(s.data) === digest) return { entry: s, kind: 'hash' };
    }
  } catch (e) {
    if (isLsvmError(e)) return undefined;
    throw e;
  }
  return undefined;
}

/** EFI_SIGNATURE_DATA bytes: SignatureOwner GUID then the data. */
function signatureDataBytes(s: SignatureData): Uint8Array {
  const out = new Uint8Array(16 + s.data.length);
  guidToBytes(s.owner, out, 0);
  out.set(s.data, 16);
  return out;
}

/** One PCR 7 event of a prediction (for reports and for comparing with an event log). */
export interface Pcr7Event {
  type: 'EV_EFI_VARIABLE_DRIVER_CONFIG' | 'EV_SEPARATOR' | 'EV_EFI_VARIABLE_AUTHORITY';
  name: string;
  /** SHA-256 extended, hex. */
  digest: string;
}

/** A PCR 7 prediction. */
export interface Pcr7Prediction {
  value: Uint8Array;
  events: Pcr7Event[];
  authority?: LoaderAuthority;
}

/**
 * Predicts SHA-256 PCR 7 after the firmware has verified and started `loader` (bootx64.efi).
 * With Secure Boot on, `loader` is required and must be allowed by db (else UsageError
 * `SB_LOADER_NOT_TRUSTED`: such a VM would not boot).
 */
export function predictPcr7(vars: SecureBootVars, loader?: Uint8Array): Pcr7Prediction {
  const bank = new PcrBank(TPM_ALG.SHA256);
  const events: Pcr7Event[] = [];
  const extend = (type: Pcr7Event['type'], name: string, data: Uint8Array): void => {
    const d = new Uint8Array(createHash('sha256').update(data).digest());
    bank.extend(7, d);
    events.push({ type, name, digest: toHex(d) });
  };
  const vars5: [string, string, Uint8Array][] = [
    [EFI_GLOBAL_VARIABLE, 'SecureBoot', Uint8Array.of(vars.secureBoot)],
    [EFI_GLOBAL_VARIABLE, 'PK', vars.PK],
    [EFI_GLOBAL_VARIABLE, 'KEK', vars.KEK],
    [EFI_IMAGE_SECURITY_DATABASE, 'db', vars.db],
    [EFI_IMAGE_SECURITY_DATABASE, 'dbx', vars.dbx],
  ];
  for (const [guid, name, data] of vars5)
    extend('EV_EFI_VARIABLE_DRIVER_CONFIG', name, uefiVariableData(guid, name, data));
  extend('EV_SEPARATOR', 'separator', new Uint8Array(4));
  let authority: LoaderAuthority | undefined;
  if (vars.secureBoot === 1) {
    if (!loader)
      throw new UsageError('SB_LOADER_REQUIRED', 'Secure Boot is on: the loader is needed to predict PCR 7');
    authority = findLoaderAuthority(vars, loader);
    if (!authority)
      throw new UsageError(
        'SB_LOADER_NOT_TRUSTED',
        'Secure Boot is on but no db entry allows the loader \\EFI\\boot\\bootx64.efi: the VM would not boot',
      );
    extend(
      'EV_EFI_VARIABLE_AUTHORITY',
      'db',
      uefiVariableData(EFI_IMAGE_SECURITY_DATABASE, 'db', signatureDataBytes(authority.entry)),
    );
  }
  return { value: bank.get(7), events, ...(authority ? { authority } : {}) };
}

/** SHA-256 PCR 11 once lsvmload has measured its three scenario events (before its cap). */
export function predictPcr11(): Uint8Array {
  return extendLsvmloadScenario(new PcrBank(TPM_ALG.SHA256)).get(LSVMLOAD_PCR);
}
