/**
 * Limits of the shielding-data parsers (DESIGN.md "Limits"): hostile input cannot make a parser
 * allocate or loop beyond these. Defaults fit every legitimate file with room to spare.
 */
export interface ShieldingLimits {
  /** Largest PDK, key protector or FSK file accepted, in bytes. */
  maxContainerBytes: number;
  /** Most guardians (wrappings) in one key protector. */
  maxGuardians: number;
  /** Largest DER certificate. */
  maxCertificateBytes: number;
  /** Most VolumeIdQualifiers in one PDK. */
  maxViqs: number;
  /** Most files (answer file included) in a PDK or a specialization file. */
  maxFiles: number;
  /** Largest single file in a PDK (Windows limits "other files" to 384 KiB). */
  maxFileBytes: number;
  /** Most credentials plus SSH keys in a PDK. */
  maxCredentials: number;
  /** Most `@Name@` pairs in an FSK. */
  maxFskPairs: number;
  /** Largest specialization.aes file, in bytes. */
  maxSpecializationBytes: number;
  /** Largest PKCS#12 (.pfx/.p12) file accepted by the guardian import, in bytes. */
  maxPfxBytes: number;
  /** Most bags (keys, certificates, others) in one PKCS#12 file. */
  maxPfxBags: number;
  /**
   * Most iterations of a PKCS#12 MAC key derivation or PBKDF2 (OpenSSL writes 2048, Windows
   * 2000 or 10000); bounds the work a hostile file can ask for.
   */
  maxPfxIterations: number;
}

/** Default limits. */
export const DEFAULT_SHIELDING_LIMITS: Readonly<ShieldingLimits> = Object.freeze({
  maxContainerBytes: 64 * 1024 * 1024,
  maxGuardians: 256,
  maxCertificateBytes: 64 * 1024,
  maxViqs: 1024,
  maxFiles: 256,
  maxFileBytes: 384 * 1024,
  maxCredentials: 256,
  maxFskPairs: 4096,
  maxSpecializationBytes: 64 * 1024 * 1024,
  maxPfxBytes: 1024 * 1024,
  maxPfxBags: 32,
  maxPfxIterations: 100_000,
});
