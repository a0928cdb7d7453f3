import { parseSystemdTpm2Blob, systemdTpm2Blob } from '../src/index.js';

/**
 * The `tpm2-blob` of a systemd-tpm2 LUKS2 token (TPM2B_PRIVATE ‖ TPM2B_PUBLIC), as a scanner reading
 * someone else's LUKS header meets it: base64-decoded bytes from an untrusted JSON area. Contract:
 * returns or throws an LsvmError; what parses must marshal back to the same bytes.
 * Corpus: blobs sealed by our client on swtpm (ECC and RSA primaries), as systemd 252 lays them out.
 */
export function fuzz(data: Buffer): void {
  const bytes = new Uint8Array(data);
  const b = parseSystemdTpm2Blob(bytes);
  const again = systemdTpm2Blob(b.private, b.public);
  if (Buffer.compare(again, bytes) !== 0) throw new Error('tpm2-blob round trip changed the bytes');
}
