import { ByteReader, ByteWriter, FormatError, UsageError } from '@lsvm/core';

/**
 * The payload sealed into `\EFI\boot\sealedkeys`: the volume passphrases lsvmload hands to the
 * initramfs. Layout (little-endian): u16 count, then per key u16 type (1 = boot, 2 = root), u16
 * size and the key bytes. lsvmload caps the whole payload at 128 bytes (a TPM2B_SENSITIVE_DATA).
 */

/** Key types in the payload. */
export const KeyType = { boot: 1, root: 2 } as const;
export type KeyTypeName = keyof typeof KeyType;

/** Largest payload lsvmload accepts. */
export const MAX_KEYS_PAYLOAD = 128;

/** A decoded payload. The buffers are secrets: zero them when done. */
export interface KeysPayload {
  boot: Uint8Array;
  root: Uint8Array;
}

/** Encodes the boot and root keys (boot first, as lsvmload writes them). */
export function encodeKeysPayload(keys: KeysPayload): Uint8Array {
  const total = 2 + 4 + keys.boot.length + 4 + keys.root.length;
  if (total > MAX_KEYS_PAYLOAD) {
    throw new UsageError(
      'KEYS_PAYLOAD_TOO_LARGE',
      `keys payload of ${total} bytes exceeds lsvmload's ${MAX_KEYS_PAYLOAD}`,
    );
  }
  const w = new ByteWriter(new Uint8Array(total));
  w.u16(2);
  w.u16(KeyType.boot).u16(keys.boot.length).bytes(keys.boot);
  w.u16(KeyType.root).u16(keys.root.length).bytes(keys.root);
  return w.finish();
}

/** Decodes a payload; both keys must be present exactly once, and nothing may follow them. */
export function decodeKeysPayload(bytes: Uint8Array): KeysPayload {
  const fail = (m: string, offset?: number): FormatError =>
    new FormatError('KEYS_PAYLOAD_INVALID', m, {
      structure: 'sealed keys payload',
      ...(offset !== undefined ? { offset } : {}),
    });
  if (bytes.length > MAX_KEYS_PAYLOAD)
    throw fail(`payload of ${bytes.length} bytes exceeds ${MAX_KEYS_PAYLOAD}`);
  const r = new ByteReader(bytes, { structure: 'sealed keys payload' });
  const count = r.u16();
  if (count < 1 || count > 8) throw fail(`key count ${count} out of range`, 0);
  const found: Partial<Record<KeyTypeName, Uint8Array>> = {};
  for (let i = 0; i < count; i++) {
    const at = r.pos;
    const type = r.u16();
    const size = r.u16();
    const key = r.bytesCopy(size, 'key bytes');
    const name = type === KeyType.boot ? 'boot' : type === KeyType.root ? 'root' : undefined;
    if (!name) throw fail(`unknown key type ${type}`, at);
    if (found[name]) throw fail(`duplicate ${name} key`, at);
    found[name] = key;
  }
  if (r.remaining !== 0) throw fail(`${r.remaining} trailing bytes`, r.pos);
  if (!found.boot || !found.root) throw fail('payload lacks the boot or the root key');
  return { boot: found.boot, root: found.root };
}
