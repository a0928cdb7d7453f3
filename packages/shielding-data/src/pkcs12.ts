import { type KeyObject, createPrivateKey, createPublicKey, webcrypto } from 'node:crypto';
import { AuthError, FormatError, LimitError, UnsupportedError, isLsvmError, zeroize } from '@lsvm/core';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { decodeBer } from './der.js';
import { DEFAULT_SHIELDING_LIMITS, type ShieldingLimits } from './limits.js';
import { macEqual } from './mac-equal.js';

/**
 * Reading PKCS#12 files (RFC 7292, ".pfx"/".p12") with pkijs: the structures (PFX, MacData,
 * AuthenticatedSafe, EncryptedData, SafeContents, SafeBag, PKCS8ShroudedKeyBag, CertBag) are
 * pkijs's, the password MAC (RFC 7292 Appendix B key derivation + HMAC) and the PBES2
 * decryption (RFC 8018 §6.2: PBKDF2 + AES-CBC) run in pkijs's CryptoEngine on node's Web Crypto.
 *
 * Before any of that work starts, every algorithm and iteration count is checked here, so a
 * hostile file cannot ask for minutes of key derivation, and an algorithm Web Crypto lacks is an
 * {@link UnsupportedError} naming it rather than an engine failure:
 *
 * - integrity: password mode with an HMAC-SHA-1/256/384/512 MAC (what `openssl pkcs12 -export`
 *   and Windows write); public-key integrity (SignedData), PBMAC1 (RFC 9579) and files without
 *   a MAC are refused — without a MAC nothing proves the password and the content belong together;
 * - privacy: PBES2 with PBKDF2 (HMAC-SHA-1/256/384/512) and AES-128/192/256-CBC, OpenSSL 3's
 *   default; the PKCS#12 legacy PBEs (RC2, RC4, 3DES with SHA-1 — `openssl pkcs12 -legacy`,
 *   old Windows exports) and PBES1 are refused by name; unencrypted bags are accepted (the MAC
 *   covers them).
 */

const OID = {
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  encryptedData: '1.2.840.113549.1.7.6',
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  pbmac1: '1.2.840.113549.1.5.14',
  keyBag: '1.2.840.113549.1.12.10.1.1',
  shroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
} as const;

/** MAC digests (RFC 7292 §4; RFC 9579 lists the SHA-2 ones) by OID, as Web Crypto names them. */
const MAC_DIGESTS: Record<string, string> = {
  '1.3.14.3.2.26': 'SHA-1',
  '2.16.840.1.101.3.4.2.1': 'SHA-256',
  '2.16.840.1.101.3.4.2.2': 'SHA-384',
  '2.16.840.1.101.3.4.2.3': 'SHA-512',
};

/** PBKDF2 PRFs (RFC 8018 Appendix B.1); absent means hmacWithSHA1. */
const PBKDF2_PRFS: Record<string, string> = {
  '1.2.840.113549.2.7': 'hmacWithSHA1',
  '1.2.840.113549.2.9': 'hmacWithSHA256',
  '1.2.840.113549.2.10': 'hmacWithSHA384',
  '1.2.840.113549.2.11': 'hmacWithSHA512',
};

/** PBES2 encryption schemes (NIST AES OIDs, RFC 3565 §4.1) with their IV size. */
const PBES2_CIPHERS: Record<string, string> = {
  '2.16.840.1.101.3.4.1.2': 'aes128-CBC',
  '2.16.840.1.101.3.4.1.22': 'aes192-CBC',
  '2.16.840.1.101.3.4.1.42': 'aes256-CBC',
};

/** Password-based encryption schemes refused by name: RFC 7292 Appendix C and PKCS#5 PBES1. */
const LEGACY_PBE: Record<string, string> = {
  '1.2.840.113549.1.12.1.1': 'pbeWithSHAAnd128BitRC4',
  '1.2.840.113549.1.12.1.2': 'pbeWithSHAAnd40BitRC4',
  '1.2.840.113549.1.12.1.3': 'pbeWithSHAAnd3-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.4': 'pbeWithSHAAnd2-KeyTripleDES-CBC',
  '1.2.840.113549.1.12.1.5': 'pbeWithSHAAnd128BitRC2-CBC',
  '1.2.840.113549.1.12.1.6': 'pbewithSHAAnd40BitRC2-CBC',
  '1.2.840.113549.1.5.1': 'pbeWithMD2AndDES-CBC',
  '1.2.840.113549.1.5.3': 'pbeWithMD5AndDES-CBC',
  '1.2.840.113549.1.5.4': 'pbeWithMD2AndRC2-CBC',
  '1.2.840.113549.1.5.6': 'pbeWithMD5AndRC2-CBC',
  '1.2.840.113549.1.5.10': 'pbeWithSHA1AndDES-CBC',
  '1.2.840.113549.1.5.11': 'pbeWithSHA1AndRC2-CBC',
};

const STRUCTURE = 'PKCS#12';

// One engine of our own over node's Web Crypto, passed explicitly to every pkijs call, rather
// than pkijs's process-global engine that other code could replace.
const engine = new pkijs.CryptoEngine({
  name: 'node-webcrypto',
  crypto: webcrypto as unknown as pkijs.CryptoEngineParameters['crypto'],
});

/** A private key found in a PKCS#12 file, with the bag attributes that name it. */
export interface PfxKey {
  privateKey: KeyObject;
  friendlyName?: string;
  /** Hex of the localKeyId attribute (links a key to its certificate). */
  localKeyId?: string;
}

/** A certificate found in a PKCS#12 file. */
export interface PfxCertificate {
  /** DER bytes (not parsed yet: see `parseCertificate`). */
  der: Uint8Array;
  friendlyName?: string;
  localKeyId?: string;
}

/** What a PKCS#12 file holds that lsvm uses: private keys and X.509 certificates. */
export interface PfxContents {
  keys: PfxKey[];
  certificates: PfxCertificate[];
}

/** A certificate with the private key of its public key. */
export interface PfxKeyPair {
  certificate: Uint8Array;
  privateKey: KeyObject;
  friendlyName?: string;
}

function malformed(what: string, cause?: unknown): FormatError {
  return new FormatError('PFX_MALFORMED', `${what} (RFC 7292)`, { structure: STRUCTURE, cause });
}

/** Runs a pkijs schema step, turning its plain Errors into a typed one. */
function schema<T>(what: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (isLsvmError(e)) throw e;
    throw malformed(`malformed ${what}`, e);
  }
}

function octets(v: unknown, what: string): Uint8Array {
  if (!(v instanceof asn1js.OctetString)) throw malformed(`${what} is not an OCTET STRING`);
  // getValue() joins the pieces of a BER constructed OCTET STRING (Windows writes those).
  return schema(what, () => new Uint8Array(v.getValue()));
}

function iterations(n: number, what: string, limits: ShieldingLimits): void {
  if (!Number.isSafeInteger(n) || n < 1)
    throw malformed(`${what} iteration count ${n} is not a positive integer`);
  if (n > limits.maxPfxIterations)
    throw new LimitError(
      'PFX_ITERATIONS',
      `${what} asks for ${n} iterations, more than ${limits.maxPfxIterations}`,
      {
        structure: STRUCTURE,
      },
    );
}

/**
 * Checks a password-based encryption AlgorithmIdentifier before pkijs runs it: PBES2 + PBKDF2 +
 * AES-CBC within the iteration limit, or an {@link UnsupportedError} naming the algorithm.
 */
function checkEncryption(alg: pkijs.AlgorithmIdentifier, what: string, limits: ShieldingLimits): void {
  const id = alg.algorithmId;
  const legacy = LEGACY_PBE[id];
  if (legacy !== undefined)
    throw new UnsupportedError(
      'PFX_LEGACY_PBE',
      `${what} is encrypted with ${legacy} (legacy PKCS#12 PBE, e.g. openssl pkcs12 -legacy); ` +
        're-export it with PBES2/AES (the OpenSSL 3 default)',
      { structure: STRUCTURE },
    );
  if (id !== OID.pbes2)
    throw new UnsupportedError('PFX_CIPHER', `${what} uses encryption algorithm ${id}, not PBES2`, {
      structure: STRUCTURE,
    });
  const p = schema('PBES2-params', () => new pkijs.PBES2Params({ schema: alg.algorithmParams }));
  if (p.keyDerivationFunc.algorithmId !== OID.pbkdf2)
    throw new UnsupportedError(
      'PFX_KDF',
      `${what} derives its key with ${p.keyDerivationFunc.algorithmId}, not PBKDF2`,
      { structure: STRUCTURE },
    );
  const k = schema(
    'PBKDF2-params',
    () => new pkijs.PBKDF2Params({ schema: p.keyDerivationFunc.algorithmParams }),
  );
  if (!(k.salt instanceof asn1js.OctetString)) throw malformed(`${what}: PBKDF2 salt is not an OCTET STRING`);
  iterations(k.iterationCount, `${what} PBKDF2`, limits);
  if (k.prf !== undefined && PBKDF2_PRFS[k.prf.algorithmId] === undefined)
    throw new UnsupportedError('PFX_PRF', `${what}: PBKDF2 PRF ${k.prf.algorithmId} is not HMAC-SHA-1/2`, {
      structure: STRUCTURE,
    });
  const cipher = PBES2_CIPHERS[p.encryptionScheme.algorithmId];
  if (cipher === undefined)
    throw new UnsupportedError(
      'PFX_CIPHER',
      `${what} is encrypted with ${p.encryptionScheme.algorithmId}, not AES-CBC`,
      { structure: STRUCTURE },
    );
  const iv = p.encryptionScheme.algorithmParams;
  if (!(iv instanceof asn1js.OctetString) || iv.valueBlock.valueHexView.length !== 16)
    throw malformed(`${what}: ${cipher} IV is not 16 bytes`);
}

async function decrypt(
  info: pkijs.EncryptedContentInfo,
  password: ArrayBuffer,
  what: string,
  limits: ShieldingLimits,
): Promise<Uint8Array> {
  checkEncryption(info.contentEncryptionAlgorithm, what, limits);
  if (info.encryptedContent === undefined) throw malformed(`${what} has no encrypted content`);
  try {
    return new Uint8Array(await engine.decryptEncryptedContentInfo({ encryptedContentInfo: info, password }));
  } catch (e) {
    // The MAC already proved the password, so a padding failure means a different encryption
    // password (openssl pkcs12 -twopass) or a damaged file.
    throw new AuthError('PFX_DECRYPT', `${what} does not decrypt with this password`, {
      structure: STRUCTURE,
      cause: e,
    });
  }
}

async function verifyMac(
  pfx: pkijs.PFX,
  content: Uint8Array,
  password: ArrayBuffer,
  limits: ShieldingLimits,
) {
  const mac = pfx.macData;
  if (mac === undefined)
    throw new UnsupportedError(
      'PFX_NO_MAC',
      'file has no password MAC (openssl pkcs12 -nomac); lsvm requires one',
      {
        structure: STRUCTURE,
      },
    );
  const digestOid = mac.mac.digestAlgorithm.algorithmId;
  if (digestOid === OID.pbmac1)
    throw new UnsupportedError('PFX_MAC_ALGORITHM', 'MAC is PBMAC1 (RFC 9579), not supported', {
      structure: STRUCTURE,
    });
  const hash = MAC_DIGESTS[digestOid];
  if (hash === undefined)
    throw new UnsupportedError('PFX_MAC_ALGORITHM', `MAC digest ${digestOid} is not SHA-1/256/384/512`, {
      structure: STRUCTURE,
    });
  const count = mac.iterations ?? 1;
  iterations(count, 'MAC', limits);
  // The MAC is computed (PKCS#12 v1.1 appendix B key derivation and HMAC, by pkijs) and compared
  // here in constant time, rather than left to engine.verifyDataStampedWithPassword, whose
  // comparison is whatever the Web Crypto implementation under pkijs does.
  let computed: Uint8Array;
  try {
    computed = new Uint8Array(
      await engine.stampDataWithPassword({
        password,
        hashAlgorithm: hash,
        salt: new Uint8Array(octets(mac.macSalt, 'MAC salt')).buffer,
        iterationCount: count,
        contentToStamp: new Uint8Array(content).buffer,
      }),
    );
  } catch (e) {
    throw malformed('MAC does not compute', e);
  }
  if (!macEqual(computed, octets(mac.mac.digest, 'MAC value')))
    throw new AuthError('PFX_MAC', 'PKCS#12 MAC does not verify: wrong password or damaged file', {
      structure: STRUCTURE,
    });
}

function attributes(bag: pkijs.SafeBag): { friendlyName?: string; localKeyId?: string } {
  const out: { friendlyName?: string; localKeyId?: string } = {};
  for (const a of bag.bagAttributes ?? []) {
    // pkijs leaves `values` undefined for an empty SET OF AttributeValue.
    const v = (a.values ?? [])[0];
    if (a.type === OID.friendlyName && v instanceof asn1js.BmpString) out.friendlyName = v.valueBlock.value;
    if (a.type === OID.localKeyId && v instanceof asn1js.OctetString)
      out.localKeyId = Buffer.from(v.valueBlock.valueHexView).toString('hex');
  }
  return out;
}

function importKey(pkcs8: Uint8Array): KeyObject {
  try {
    return createPrivateKey({ key: Buffer.from(pkcs8), format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw malformed('private key bag is not a PKCS#8 key', e);
  } finally {
    zeroize(pkcs8);
  }
}

/**
 * Reads the keys and X.509 certificates of a PKCS#12 file, verifying its password MAC first
 * (wrong password: {@link AuthError} `PFX_MAC`). Other bags (CRLs, secrets, other certificate
 * types) are skipped; nested SafeContents are refused.
 */
export async function readPfx(
  bytes: Uint8Array,
  password: string | Uint8Array,
  limits: Partial<ShieldingLimits> = {},
): Promise<PfxContents> {
  const l = { ...DEFAULT_SHIELDING_LIMITS, ...limits };
  if (bytes.length > l.maxPfxBytes)
    throw new LimitError(
      'PFX_SIZE',
      `PKCS#12 file of ${bytes.length} bytes is larger than ${l.maxPfxBytes}`,
      {
        structure: STRUCTURE,
      },
    );
  const pw = typeof password === 'string' ? new TextEncoder().encode(password) : new Uint8Array(password);
  const pwBuffer = pw.buffer as ArrayBuffer;
  // Decrypted SafeContents may hold unencrypted key bags; pkijs keeps views into these buffers,
  // so they are zeroed only when the whole read is done.
  const decrypted: Uint8Array[] = [];
  try {
    const pfx = schema('PFX', () => new pkijs.PFX({ schema: decodeBer(bytes, STRUCTURE) }));
    if (pfx.version !== 3) throw malformed(`PFX version ${pfx.version} is not 3`);
    if (pfx.authSafe.contentType === OID.signedData)
      throw new UnsupportedError('PFX_INTEGRITY', 'public-key integrity mode (SignedData) is not supported', {
        structure: STRUCTURE,
      });
    if (pfx.authSafe.contentType !== OID.data)
      throw malformed(`authSafe content type ${pfx.authSafe.contentType} is not data`);
    const content = octets(pfx.authSafe.content, 'authSafe content');
    await verifyMac(pfx, content, pwBuffer, l);

    const safe = schema('AuthenticatedSafe', () => pkijs.AuthenticatedSafe.fromBER(content));
    if (safe.safeContents.length > l.maxPfxBags)
      throw new LimitError('PFX_BAGS', `more than ${l.maxPfxBags} SafeContents`, { structure: STRUCTURE });
    const bags: pkijs.SafeBag[] = [];
    for (const ci of safe.safeContents) {
      let plain: Uint8Array;
      if (ci.contentType === OID.data) plain = octets(ci.content, 'SafeContents');
      else if (ci.contentType === OID.encryptedData) {
        const ed = schema('EncryptedData', () => new pkijs.EncryptedData({ schema: ci.content }));
        plain = await decrypt(ed.encryptedContentInfo, pwBuffer, 'SafeContents', l);
        decrypted.push(plain);
      } else
        throw new UnsupportedError(
          'PFX_CONTENT',
          `SafeContents of content type ${ci.contentType} is not supported`,
          {
            structure: STRUCTURE,
          },
        );
      const sc = schema('SafeContents', () => pkijs.SafeContents.fromBER(plain));
      bags.push(...sc.safeBags);
      if (bags.length > l.maxPfxBags)
        throw new LimitError('PFX_BAGS', `more than ${l.maxPfxBags} bags`, { structure: STRUCTURE });
    }

    const out: PfxContents = { keys: [], certificates: [] };
    // The bags are pkijs objects built from attacker-chosen bytes (the MAC only proves the password):
    // anything pkijs throws while they are read is a malformed file, not a TypeError.
    for (const bag of bags) await schemaAsync('SafeBag', () => readBag(bag, out));
    return out;
  } finally {
    zeroize(pw);
    for (const d of decrypted) zeroize(d);
  }

  async function readBag(bag: pkijs.SafeBag, out: PfxContents): Promise<void> {
    const attrs = attributes(bag);
    switch (bag.bagId) {
      case OID.shroudedKeyBag: {
        const kb = bag.bagValue as pkijs.PKCS8ShroudedKeyBag;
        const info = new pkijs.EncryptedContentInfo({
          contentType: OID.data,
          contentEncryptionAlgorithm: kb.encryptionAlgorithm,
          encryptedContent: kb.encryptedData,
        });
        const plain = await decrypt(info, pwBuffer, 'key bag', l);
        out.keys.push({ privateKey: importKey(plain), ...attrs });
        break;
      }
      case OID.keyBag: {
        const der = schema(
          'KeyBag',
          () => new Uint8Array((bag.bagValue as pkijs.PrivateKeyInfo).toSchema().toBER(false)),
        );
        out.keys.push({ privateKey: importKey(der), ...attrs });
        break;
      }
      case OID.certBag: {
        const cb = bag.bagValue as pkijs.CertBag;
        if (cb.certId === OID.x509Certificate)
          out.certificates.push({ der: octets(cb.certValue, 'certificate bag'), ...attrs });
        break;
      }
      case OID.safeContentsBag:
        throw new UnsupportedError('PFX_NESTED', 'nested SafeContents bags are not supported', {
          structure: STRUCTURE,
        });
      default:
        break; // CRL and secret bags: nothing a guardian uses
    }
  }
}

async function schemaAsync<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isLsvmError(e)) throw e;
    throw malformed(`malformed ${what}`, e);
  }
}

function spki(key: KeyObject): string {
  return createPublicKey(key).export({ type: 'spki', format: 'der' }).toString('hex');
}

/**
 * The one private key of a PKCS#12 file and the certificate of its public key (other
 * certificates, e.g. a CA chain, are ignored). Files with no key, several keys, or no matching
 * certificate are a {@link FormatError}.
 */
export async function readPfxKeyPair(
  bytes: Uint8Array,
  password: string | Uint8Array,
  limits: Partial<ShieldingLimits> = {},
): Promise<PfxKeyPair> {
  const { keys, certificates } = await readPfx(bytes, password, limits);
  if (keys.length !== 1)
    throw new FormatError(
      keys.length === 0 ? 'PFX_NO_KEY' : 'PFX_KEYS',
      `PKCS#12 file holds ${keys.length} private keys; a guardian file holds exactly one`,
      { structure: STRUCTURE },
    );
  const key = keys[0]!;
  const pub = spki(key.privateKey);
  const cert = certificates.find((c) => {
    try {
      const der = new Uint8Array(c.der);
      const asn = decodeBer(der, STRUCTURE);
      const x = new pkijs.Certificate({ schema: asn });
      return Buffer.from(x.subjectPublicKeyInfo.toSchema().toBER(false)).toString('hex') === pub;
    } catch {
      return false; // a certificate that does not parse cannot be the key's
    }
  });
  if (cert === undefined)
    throw new FormatError('PFX_NO_CERTIFICATE', 'PKCS#12 file has no certificate for its private key', {
      structure: STRUCTURE,
    });
  return {
    certificate: cert.der,
    privateKey: key.privateKey,
    ...(key.friendlyName !== undefined ? { friendlyName: key.friendlyName } : {}),
  };
}
