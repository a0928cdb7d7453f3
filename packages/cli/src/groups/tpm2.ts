import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FormatError, UsageError, fromHex, toHex, zeroize } from '@lsvm/core';
import {
  TPM2B_PRIVATE,
  TPM2B_PUBLIC,
  TPM2B_SENSITIVE,
  TPM2B_NV_PUBLIC,
  TPM2B_DIGEST,
  TPMS_CAPABILITY_DATA,
  TPMS_CONTEXT,
  TPMS_PCR_SELECT,
  TPMT_PUBLIC,
  TPML_PCR_SELECTION,
  TPMA_OBJECT,
  TPM_ALG,
  TPM_ECC,
  Tpm,
  type TpmtPublic,
  type TpmtScheme,
  type TpmtSymDef,
  type TpmsPcrSelection,
  type Codec,
  PolicyCalculator,
  algName,
  decodeRc,
  digestSize,
  formatPcrSelection,
  formatRc,
  marshal,
  parseHashAlg,
  nameOf,
  objectName,
  openTcti,
  parsePcrSelection,
  parseSealedKeys,
  seal,
  unmarshal,
  unseal,
} from '@lsvm/tpm2-marshal';
import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import type { CliGroup } from '../group.js';

/** `--auth` in tpm2-tools syntax: `str:…` (default) or `hex:…`. */
function parseAuth(a: string | undefined): Uint8Array | undefined {
  if (a === undefined) return undefined;
  if (a.startsWith('hex:')) return fromHex(a.slice(4));
  return new TextEncoder().encode(a.startsWith('str:') ? a.slice(4) : a);
}

function tctiOf(ctx: CliContext, t: string | undefined): string {
  const v = t ?? ctx.io.env.TPM2TOOLS_TCTI ?? ctx.io.env.TPM2_PKCS11_TCTI;
  if (!v)
    throw new UsageError(
      'TPM2_NO_TCTI',
      'no TPM given: use --tcti (e.g. swtpm:host=127.0.0.1,port=2321) or TPM2TOOLS_TCTI',
    );
  return v;
}

async function withTpm<T>(
  ctx: CliContext,
  tcti: string | undefined,
  f: (tpm: Tpm) => Promise<T>,
): Promise<T> {
  const tpm = new Tpm(await openTcti(tctiOf(ctx, tcti)));
  try {
    return await f(tpm);
  } finally {
    await tpm.close();
  }
}

/** Writes a file through a temporary name and a rename, so a crash never leaves half a file. */
function writeAtomic(path: string, data: Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(tmp, data, { mode: 0o600 });
  renameSync(tmp, path);
}

function readFile(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new UsageError('FILE_UNREADABLE', `cannot read ${path}: ${(e as Error).message}`);
  }
}

function oneBank(sel: TpmsPcrSelection[]): void {
  if (sel.length !== 1 || sel[0]!.pcrs.length === 0)
    throw new UsageError('TPM2_BAD_PCR_SPEC', 'give one bank with at least one PCR, e.g. sha256:7,11');
}

/**
 * PCR values for `policy-pcr --pcr-values`: the binary file `tpm2_pcrread -o` writes (the values
 * concatenated) or text with one hex value per line.
 */
function parsePcrValues(bytes: Uint8Array, sel: TpmsPcrSelection[]): Uint8Array[] {
  const count = sel.reduce((n, s) => n + s.pcrs.length, 0);
  const sizes = sel.flatMap((s) => s.pcrs.map(() => digestSize(s.hash)));
  const total = sizes.reduce((a, b) => a + b, 0);
  let flat: Uint8Array;
  if (bytes.length === total) flat = bytes;
  else {
    const text = new TextDecoder().decode(bytes);
    const lines = text
      .split(/\r?\n/)
      .map((l) => l.replace(/^.*:\s*/, '').trim())
      .filter((l) => l.length > 0);
    if (lines.length !== count)
      throw new FormatError(
        'TPM2_PCR_VALUES',
        `expected ${count} PCR values (binary ${total} bytes or ${count} hex lines)`,
      );
    flat = fromHex(lines.join(''));
    if (flat.length !== total)
      throw new FormatError('TPM2_PCR_VALUES', 'PCR values have the wrong digest size');
  }
  const out: Uint8Array[] = [];
  let o = 0;
  for (const n of sizes) {
    out.push(flat.subarray(o, o + n));
    o += n;
  }
  return out;
}

// --- decode -------------------------------------------------------------------------------

const ATTR_NAMES: [number, string][] = [
  [TPMA_OBJECT.fixedTPM, 'fixedtpm'],
  [TPMA_OBJECT.stClear, 'stclear'],
  [TPMA_OBJECT.fixedParent, 'fixedparent'],
  [TPMA_OBJECT.sensitiveDataOrigin, 'sensitivedataorigin'],
  [TPMA_OBJECT.userWithAuth, 'userwithauth'],
  [TPMA_OBJECT.adminWithPolicy, 'adminwithpolicy'],
  [TPMA_OBJECT.noDA, 'noda'],
  [TPMA_OBJECT.encryptedDuplication, 'encryptedduplication'],
  [TPMA_OBJECT.restricted, 'restricted'],
  [TPMA_OBJECT.decrypt, 'decrypt'],
  [TPMA_OBJECT.sign, 'sign'],
  [TPMA_OBJECT.x509sign, 'x509sign'],
];

const lc = (alg: number): string => (alg === 0 ? '(null)' : algName(alg));
const valueRaw = (k: string, v: string, raw: number): string[] => [
  `${k}:`,
  `  value: ${v}`,
  `  raw: 0x${raw.toString(16)}`,
];

function symLines(s: TpmtSymDef): string[] {
  if (s.algorithm === TPM_ALG.NULL) return valueRaw('sym-alg', 'null', s.algorithm);
  return [
    ...valueRaw('sym-alg', lc(s.algorithm), s.algorithm),
    ...valueRaw('sym-mode', lc(s.mode ?? 0), s.mode ?? 0),
    `sym-keybits: ${s.keyBits}`,
  ];
}
function schemeLines(s: TpmtScheme): string[] {
  return [
    ...valueRaw('scheme', lc(s.scheme), s.scheme),
    ...valueRaw('scheme-halg', lc(s.hashAlg ?? 0), s.hashAlg ?? 0),
  ];
}

/** The public area in the layout tpm2_print uses (so the two can be compared line by line). */
export function describePublic(p: TpmtPublic): string {
  const names = ATTR_NAMES.filter(([b]) => p.objectAttributes & b).map(([, n]) => n);
  const lines = [
    ...valueRaw('name-alg', lc(p.nameAlg), p.nameAlg),
    ...valueRaw('attributes', names.join('|'), p.objectAttributes),
    ...valueRaw('type', lc(p.type), p.type),
  ];
  switch (p.type) {
    case TPM_ALG.RSA:
      lines.push(
        `exponent: ${p.parameters.exponent === 0 ? 65537 : p.parameters.exponent}`,
        `bits: ${p.parameters.keyBits}`,
      );
      lines.push(
        ...schemeLines(p.parameters.scheme),
        ...symLines(p.parameters.symmetric),
        `rsa: ${toHex(p.unique)}`,
      );
      break;
    case TPM_ALG.ECC: {
      const curve = (nameOf(TPM_ECC, p.parameters.curveID) ?? 'unknown')
        .replace(/^NIST_P/, 'NIST p')
        .toLowerCase()
        .replace(/^nist p/, 'NIST p');
      lines.push(...valueRaw('curve-id', curve, p.parameters.curveID));
      lines.push(...valueRaw('kdfa-alg', lc(p.parameters.kdf.scheme), p.parameters.kdf.scheme));
      lines.push(...valueRaw('kdfa-halg', lc(p.parameters.kdf.hashAlg ?? 0), p.parameters.kdf.hashAlg ?? 0));
      lines.push(...schemeLines(p.parameters.scheme), ...symLines(p.parameters.symmetric));
      lines.push(`x: ${toHex(p.unique.x)}`, `y: ${toHex(p.unique.y)}`);
      break;
    }
    case TPM_ALG.KEYEDHASH:
      lines.push(...valueRaw('algorithm', lc(p.parameters.scheme.scheme), p.parameters.scheme.scheme));
      if (p.parameters.scheme.hashAlg !== undefined)
        lines.push(...valueRaw('hash-alg', lc(p.parameters.scheme.hashAlg), p.parameters.scheme.hashAlg));
      lines.push(`keyedhash: ${toHex(p.unique)}`);
      break;
    case TPM_ALG.SYMCIPHER:
      lines.push(...symLines(p.parameters.sym), `symcipher: ${toHex(p.unique)}`);
      break;
  }
  if (p.authPolicy.length > 0) lines.push(`authorization policy: ${toHex(p.authPolicy)}`);
  return lines.join('\n');
}

const DECODERS: Record<string, { codec: Codec<unknown>; human?: (v: never) => string }> = {
  TPM2B_PUBLIC: {
    codec: TPM2B_PUBLIC as Codec<unknown>,
    human: (v: TpmtPublic) => `${describePublic(v)}\nname: ${toHex(objectName(v))}`,
  },
  TPMT_PUBLIC: {
    codec: TPMT_PUBLIC as Codec<unknown>,
    human: (v: TpmtPublic) => `${describePublic(v)}\nname: ${toHex(objectName(v))}`,
  },
  TPM2B_PRIVATE: {
    codec: TPM2B_PRIVATE as Codec<unknown>,
    human: (v: Uint8Array) => `TPM2B_PRIVATE: ${v.length} bytes (encrypted under its parent)`,
  },
  TPM2B_SENSITIVE: { codec: TPM2B_SENSITIVE as Codec<unknown> },
  TPM2B_DIGEST: { codec: TPM2B_DIGEST as Codec<unknown>, human: (v: Uint8Array) => toHex(v) },
  TPM2B_NV_PUBLIC: { codec: TPM2B_NV_PUBLIC as Codec<unknown> },
  TPML_PCR_SELECTION: {
    codec: TPML_PCR_SELECTION as Codec<unknown>,
    human: (v: TpmsPcrSelection[]) => formatPcrSelection(v),
  },
  TPMS_PCR_SELECT: {
    codec: TPMS_PCR_SELECT as Codec<unknown>,
    human: (v: number[]) => `pcrs: ${v.join(',')}`,
  },
  TPMS_CONTEXT: { codec: TPMS_CONTEXT as Codec<unknown> },
  TPMS_CAPABILITY_DATA: { codec: TPMS_CAPABILITY_DATA as Codec<unknown> },
};

/** Makes a decoded structure JSON-friendly (enum names beside the raw numbers where useful). */
function jsonPublic(p: TpmtPublic): object {
  return { ...p, typeName: algName(p.type), nameAlgName: algName(p.nameAlg), name: objectName(p) };
}

export const tpm2Group: CliGroup = {
  name: 'tpm2',
  description:
    'TPM 2.0: read PCRs, seal/unseal to PCR policies, policy digests, decode structures and response codes',
  register(cmd: Command, ctx: CliContext) {
    cmd
      .command('pcrread')
      .description('read PCR values (default sha256:all)')
      .argument('[selection]', 'PCR selection in tpm2-tools syntax, e.g. sha256:0,7,11', 'sha256:all')
      .option(
        '--tcti <tcti>',
        'TPM to use: swtpm:host=…,port=…, mssim:…, device:/dev/tpmrm0 (default $TPM2TOOLS_TCTI)',
      )
      .action(async (selection: string, o: { tcti?: string }) => {
        const sel = parsePcrSelection(selection);
        const values = await withTpm(ctx, o.tcti, (tpm) => tpm.pcrRead(sel));
        ctx.result(
          values.map((v) => ({ bank: algName(v.hash), pcr: v.pcr, value: toHex(v.value) })),
          () => {
            const out: string[] = [];
            let bank = -1;
            for (const v of values) {
              if (v.hash !== bank) {
                out.push(`  ${algName(v.hash)}:`);
                bank = v.hash;
              }
              out.push(`    ${String(v.pcr).padEnd(2)}: 0x${toHex(v.value).toUpperCase()}`);
            }
            return out.join('\n');
          },
        );
      });

    cmd
      .command('seal')
      .description(
        'seal a small secret (≤128 bytes) to PCR values under the SRK (0x81000001 or a transient RSA-2048 primary)',
      )
      .requiredOption('--pcrs <selection>', 'one bank, e.g. sha256:7,11')
      .requiredOption('--in <file>', "the secret ('-' for stdin)")
      .requiredOption('--public <file>', 'TPM2B_PUBLIC output (as tpm2_create -u)')
      .requiredOption('--private <file>', 'TPM2B_PRIVATE output (as tpm2_create -r)')
      .option('--auth <auth>', 'also require this authValue (str:… or hex:…)')
      .option('--parent <handle>', 'parent handle (default: 0x81000001 if present, else a transient SRK)')
      .option('--tcti <tcti>', 'TPM to use (default $TPM2TOOLS_TCTI)')
      .action(
        async (o: {
          pcrs: string;
          in: string;
          public: string;
          private: string;
          auth?: string;
          parent?: string;
          tcti?: string;
        }) => {
          const sel = parsePcrSelection(o.pcrs);
          oneBank(sel);
          const data = await ctx.readKeyFile(o.in);
          const auth = parseAuth(o.auth);
          try {
            const sealed = await withTpm(ctx, o.tcti, (tpm) =>
              seal(tpm, data, {
                pcrs: sel,
                ...(auth ? { authValue: auth } : {}),
                ...(o.parent ? { parent: Number(o.parent) } : {}),
              }),
            );
            writeAtomic(o.public, marshal(TPM2B_PUBLIC, sealed.public));
            writeAtomic(o.private, marshal(TPM2B_PRIVATE, sealed.private));
            ctx.result(
              {
                pcrs: formatPcrSelection(sel),
                policyDigest: toHex(sealed.policyDigest),
                name: toHex(objectName(sealed.public)),
                public: o.public,
                private: o.private,
              },
              `sealed to ${formatPcrSelection(sel)}${auth ? ' + authValue' : ''}; policy ${toHex(sealed.policyDigest)}`,
            );
          } finally {
            zeroize(data, auth);
          }
        },
      );

    cmd
      .command('unseal')
      .description('unseal over a salted, response-encrypted policy session (secret to stdout or --out)')
      .requiredOption('--public <file>', 'TPM2B_PUBLIC of the sealed object')
      .requiredOption('--private <file>', 'TPM2B_PRIVATE of the sealed object')
      .requiredOption('--pcrs <selection>', 'the PCRs of its policy, e.g. sha256:7,11')
      .option('--auth <auth>', 'the authValue, when the policy requires it (str:… or hex:…)')
      .option('--out <file>', 'write the secret here instead of stdout')
      .option('--parent <handle>', 'parent handle (default: 0x81000001 if present, else a transient SRK)')
      .option('--tcti <tcti>', 'TPM to use (default $TPM2TOOLS_TCTI)')
      .action(
        async (o: {
          public: string;
          private: string;
          pcrs: string;
          auth?: string;
          out?: string;
          parent?: string;
          tcti?: string;
        }) => {
          const sel = parsePcrSelection(o.pcrs);
          const pub = unmarshal(TPM2B_PUBLIC, readFile(o.public));
          const priv = unmarshal(TPM2B_PRIVATE, readFile(o.private));
          const auth = parseAuth(o.auth);
          const secret = await withTpm(ctx, o.tcti, (tpm) =>
            unseal(
              tpm,
              { public: pub, private: priv },
              {
                pcrs: sel,
                ...(auth ? { authValue: auth } : {}),
                ...(o.parent ? { parent: Number(o.parent) } : {}),
              },
            ),
          );
          try {
            if (o.out) {
              writeAtomic(o.out, secret);
              ctx.result({ out: o.out, bytes: secret.length }, `wrote ${secret.length} bytes to ${o.out}`);
            } else {
              // The user asked for the secret: raw bytes on stdout, never in JSON.
              ctx.io.stdout.write(Buffer.from(secret));
            }
          } finally {
            zeroize(secret, auth);
          }
        },
      );

    cmd
      .command('policy-pcr')
      .description('compute a PolicyPCR digest offline (hex), from a PCR values file or the TPM')
      .requiredOption('--pcrs <selection>', 'e.g. sha256:7,11')
      .option(
        '--pcr-values <file>',
        'the selected values: binary (tpm2_pcrread -o) or one hex value per line',
      )
      .option('--tcti <tcti>', 'read the values from this TPM instead')
      .option('--auth-value', 'prefix PolicyAuthValue / PolicyPassword (as seal --auth does)')
      .option('--session-hash <alg>', 'policy session hash', 'sha256')
      .action(
        async (o: {
          pcrs: string;
          pcrValues?: string;
          tcti?: string;
          authValue?: boolean;
          sessionHash: string;
        }) => {
          const sel = parsePcrSelection(o.pcrs);
          if ((o.pcrValues === undefined) === (o.tcti === undefined && !ctx.io.env.TPM2TOOLS_TCTI))
            throw new UsageError('TPM2_POLICY_SOURCE', 'give exactly one of --pcr-values or --tcti');
          const values = o.pcrValues
            ? parsePcrValues(readFile(o.pcrValues), sel)
            : (await withTpm(ctx, o.tcti, (tpm) => tpm.pcrRead(sel))).map((v) => v.value);
          const calc = new PolicyCalculator(parseHashAlg(o.sessionHash));
          if (o.authValue) calc.policyAuthValue();
          const digest = calc.policyPcr(sel, values).digest;
          ctx.result({ pcrs: formatPcrSelection(sel), policyDigest: toHex(digest) }, toHex(digest));
        },
      );

    cmd
      .command('decode')
      .description(`decode a marshalled structure: ${[...Object.keys(DECODERS), 'sealedkeys'].join(', ')}`)
      .argument('<type>', 'structure type')
      .argument('<file>', 'file holding exactly one structure')
      .action(async (type: string, file: string) => {
        const bytes = readFile(file);
        const t = type.toUpperCase() === 'SEALEDKEYS' ? 'sealedkeys' : type.toUpperCase();
        if (t === 'sealedkeys') {
          const k = parseSealedKeys(bytes);
          ctx.result(
            { ...k, public: jsonPublic(k.public) },
            () =>
              `private: ${k.private.length} bytes\n${describePublic(k.public)}\ncreation hash: ${toHex(k.creationHash)}\npcrs: sha256:${k.pcrs.join(',')}`,
          );
          return;
        }
        const d = DECODERS[t];
        if (!d)
          throw new UsageError(
            'TPM2_UNKNOWN_TYPE',
            `unknown type '${type}' (one of ${Object.keys(DECODERS).join(', ')}, sealedkeys)`,
          );
        const v = unmarshal(d.codec, bytes);
        const json = t === 'TPM2B_PUBLIC' || t === 'TPMT_PUBLIC' ? jsonPublic(v as TpmtPublic) : v;
        ctx.result(json, () =>
          d.human
            ? d.human(v as never)
            : JSON.stringify(
                v,
                (_k, x) => (x instanceof Uint8Array ? toHex(x) : typeof x === 'bigint' ? x.toString() : x),
                2,
              ),
        );
      });

    cmd
      .command('rc')
      .description('decode a TPM response code (as tpm2_rc_decode)')
      .argument('<code>', 'response code, hex (0x99d) or decimal')
      .action(async (code: string) => {
        const v = /^0x[0-9a-f]+$/i.test(code)
          ? Number.parseInt(code.slice(2), 16)
          : /^\d+$/.test(code)
            ? Number(code)
            : /^[0-9a-f]+$/i.test(code)
              ? Number.parseInt(code, 16)
              : Number.NaN;
        if (!Number.isFinite(v) || v > 0xffffffff)
          throw new UsageError('TPM2_BAD_RC', `'${code}' is not a response code`);
        const d = decodeRc(v);
        ctx.result({ ...d, text: formatRc(d) }, formatRc(d));
      });
  },
};
