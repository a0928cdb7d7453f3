import { UsageError, fromHex, normalizeGuid, toHex } from '@lsvm/core';
import {
  EFI_CERT_TYPES,
  EFI_GLOBAL_VARIABLE_GUID,
  EFI_IMAGE_SECURITY_DATABASE_GUID,
  EFI_VARIABLE,
  SECURE_BOOT_VARIABLE_ATTRIBUTES,
  type SignatureList,
  type SignatureListInput,
  type SignatureTypeName,
  authenticodeDigest,
  buildAuthVariable,
  buildSignatureLists,
  efiTimeFromDate,
  parseAuthVariable,
  parseCertificate,
  parseCertificatePemOrDer,
  parseSignatureLists,
  parseTrustInput,
  pemCertificates,
  signatureDatabase,
  verifyAuthVariable,
} from '@lsvm/pe-authenticode';
import type { CliGroup } from '../group.js';
import { readInput, writeOutput } from './pe.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** The owner GUID Microsoft uses for its db/dbx entries; the default here is the nil-free lsvm one. */
const DEFAULT_OWNER = '8f8a84a6-4c0e-4a6e-9a3c-6c73766d0001';

function listJson(l: SignatureList): unknown {
  return {
    type: l.typeName ?? l.type,
    typeGuid: l.type,
    offset: l.offset,
    signatureSize: l.signatureSize,
    count: l.signatures.length,
    signatures: l.signatures.map((s) => {
      if (l.typeName === 'x509') {
        try {
          const c = parseCertificate(s.data);
          return {
            owner: s.owner,
            subject: c.subject,
            issuer: c.issuer,
            serial: c.serial,
            bytes: s.data.length,
          };
        } catch {
          return { owner: s.owner, bytes: s.data.length, error: 'undecodable certificate' };
        }
      }
      return { owner: s.owner, data: toHex(s.data) };
    }),
  };
}

function listText(l: SignatureList, j: ReturnType<typeof listJson>): string[] {
  const v = j as { signatures: { owner: string; subject?: string; data?: string; error?: string }[] };
  const out = [
    `list @${l.offset}: ${l.typeName ?? l.type}, ${l.signatures.length} entr${l.signatures.length === 1 ? 'y' : 'ies'} of ${l.signatureSize} bytes`,
  ];
  for (const s of v.signatures) out.push(`  ${s.owner}  ${s.subject ?? s.data ?? s.error ?? ''}`);
  return out;
}

const VARIABLES: Record<string, string> = {
  PK: EFI_GLOBAL_VARIABLE_GUID,
  KEK: EFI_GLOBAL_VARIABLE_GUID,
  db: EFI_IMAGE_SECURITY_DATABASE_GUID,
  dbx: EFI_IMAGE_SECURITY_DATABASE_GUID,
  dbt: EFI_IMAGE_SECURITY_DATABASE_GUID,
};

/** `lsvm uefi …` — Secure Boot signature databases. */
export const uefiGroup: CliGroup = {
  name: 'uefi',
  description: 'UEFI Secure Boot databases: EFI_SIGNATURE_LIST and authenticated variables',
  register(cmd, ctx) {
    cmd
      .command('siglist')
      .argument('<file>', 'EFI_SIGNATURE_LIST buffer (db/dbx/KEK/PK) or authenticated variable (.auth)')
      .description('dump signature lists, with the signer and timestamp of an authenticated variable')
      .action((file: string) => {
        const bytes = readInput(file);
        let lists: SignatureList[];
        let auth: Record<string, unknown> | undefined;
        try {
          lists = parseSignatureLists(bytes);
        } catch (eslError) {
          let v: ReturnType<typeof parseAuthVariable>;
          try {
            v = parseAuthVariable(bytes);
          } catch {
            throw eslError;
          }
          const t = v.timestamp;
          const si = v.signedData.signerInfos[0];
          const signer = si
            ? v.signedData.certificates.find(
                (c) => si.serialRaw && Buffer.from(si.serialRaw).equals(c.serialRaw),
              )
            : undefined;
          auth = {
            timestamp: `${t.year}-${String(t.month).padStart(2, '0')}-${String(t.day).padStart(2, '0')} ${String(t.hour).padStart(2, '0')}:${String(t.minute).padStart(2, '0')}:${String(t.second).padStart(2, '0')}`,
            certType: v.certType,
            pkcs7Bytes: v.pkcs7.length,
            signer: signer?.subject,
            certificates: v.signedData.certificates.map((c) => c.subject),
            dataBytes: v.data.length,
          };
          lists = v.lists ?? [];
        }
        const json = lists.map(listJson);
        ctx.result({ file, authenticatedVariable: auth, lists: json }, () => {
          const l: string[] = [];
          if (auth) {
            l.push(`authenticated variable: timestamp ${auth.timestamp}, PKCS#7 of ${auth.pkcs7Bytes} bytes`);
            l.push(`  signer ${auth.signer ?? '?'}`);
          }
          for (const [i, x] of lists.entries()) l.push(...listText(x, json[i]));
          return l.join('\n');
        });
      });

    cmd
      .command('verify')
      .argument('<file>', 'authenticated variable (EFI_VARIABLE_AUTHENTICATION_2 + data)')
      .requiredOption('--var <name>', 'the variable it updates: PK, KEK, db, dbx, dbt')
      .requiredOption(
        '--trust <file>',
        'signer or CA certificate (PEM/DER) or ESL (KEK/PK); repeatable',
        collect,
      )
      .option('--append', 'the update is an append write (attribute 0x40), as dbx updates are')
      .description('verify the signature of a db/dbx/KEK/PK update; exit 0 when trusted, 1 when not')
      .action((file: string, o: { var: string; trust: string[]; append?: boolean }) => {
        const vendorGuid = VARIABLES[o.var];
        if (!vendorGuid)
          throw new UsageError('USAGE', `--var must be one of ${Object.keys(VARIABLES).join(', ')}`);
        const trust = o.trust.flatMap((t) => {
          const ti = parseTrustInput(readInput(t));
          return [...ti.certificates, ...signatureDatabase(ti.lists).certificates];
        });
        const v = verifyAuthVariable(
          parseAuthVariable(readInput(file)),
          {
            name: o.var,
            vendorGuid,
            attributes: SECURE_BOOT_VARIABLE_ATTRIBUTES | (o.append ? EFI_VARIABLE.APPEND_WRITE : 0),
          },
          trust,
        );
        if (!v.trusted) ctx.findings();
        ctx.result(
          { trusted: v.trusted, failures: v.failures, signer: v.signer?.subject, anchor: v.anchor?.subject },
          () =>
            [
              `${file}: ${v.trusted ? 'trusted' : 'NOT trusted'} update of ${o.var}${v.signer ? ` signed by ${v.signer.subject}` : ''}`,
              ...v.failures.map((f) => `  ${f.code}: ${f.message}`),
            ].join('\n'),
        );
      });

    cmd
      .command('siglist-build')
      .argument('<out>', 'output file')
      .option('--owner <guid>', 'SignatureOwner GUID for every entry', DEFAULT_OWNER)
      .option('--cert <file>', 'X.509 certificate (PEM or DER) → EFI_CERT_X509; repeatable', collect)
      .option('--hash <hex>', 'hash → EFI_CERT_SHA256 (or --hash-type); repeatable', collect)
      .option('--hash-type <type>', 'sha256 (default), sha1, sha384, sha512', 'sha256')
      .option('--image <file>', 'PE image → its Authenticode digest as a hash entry; repeatable', collect)
      .option('--sign-cert <file>', 'sign as an authenticated variable with this certificate')
      .option('--sign-key <file>', 'the private key of --sign-cert')
      .option('--var <name>', 'variable the update is for: PK, KEK, db, dbx (needed with --sign-*)')
      .option('--append', 'sign an append write (attribute 0x40), as dbx updates are')
      .option('--timestamp <iso>', 'EFI_TIME of the update (default now)')
      .description('build an EFI_SIGNATURE_LIST buffer, optionally signed as an authenticated variable')
      .action(
        async (
          out: string,
          o: {
            owner: string;
            cert?: string[];
            hash?: string[];
            hashType: string;
            image?: string[];
            signCert?: string;
            signKey?: string;
            var?: string;
            append?: boolean;
            timestamp?: string;
          },
        ) => {
          const owner = normalizeGuid(o.owner);
          const inputs: SignatureListInput[] = [];
          for (const f of o.cert ?? []) {
            const bytes = readInput(f);
            const ders = pemCertificates(bytes);
            for (const der of ders.length > 0 ? ders : [bytes]) {
              const c = parseCertificatePemOrDer(der);
              inputs.push({ type: 'x509', signatures: [{ owner, data: c.der }] });
            }
          }
          const type = o.hashType as SignatureTypeName;
          if (!['sha1', 'sha256', 'sha384', 'sha512'].includes(type))
            throw new UsageError('USAGE', '--hash-type must be sha1, sha256, sha384 or sha512');
          const hashes: Uint8Array[] = (o.hash ?? []).map((h) => fromHex(h));
          for (const f of o.image ?? [])
            hashes.push(authenticodeDigest(readInput(f), { algorithm: type as 'sha256' }));
          for (const h of hashes) {
            if (h.length !== EFI_CERT_TYPES[type].dataSize)
              throw new UsageError(
                'USAGE',
                `a ${type} hash is ${EFI_CERT_TYPES[type].dataSize} bytes, got ${h.length}`,
              );
          }
          if (hashes.length > 0) inputs.push({ type, signatures: hashes.map((data) => ({ owner, data })) });
          if (inputs.length === 0)
            throw new UsageError('USAGE', 'give at least one --cert, --hash or --image');
          let bytes = buildSignatureLists(inputs);
          if (o.signCert || o.signKey) {
            if (!o.signCert || !o.signKey || !o.var)
              throw new UsageError('USAGE', '--sign-cert, --sign-key and --var go together');
            const vendorGuid = VARIABLES[o.var];
            if (!vendorGuid)
              throw new UsageError('USAGE', `--var must be one of ${Object.keys(VARIABLES).join(', ')}`);
            const key = await ctx.readKeyFile(o.signKey);
            try {
              const ts = o.timestamp ? new Date(o.timestamp) : new Date();
              if (Number.isNaN(ts.getTime()))
                throw new UsageError('USAGE', '--timestamp must be an ISO date');
              bytes = buildAuthVariable({
                name: o.var,
                vendorGuid,
                attributes: SECURE_BOOT_VARIABLE_ATTRIBUTES | (o.append ? EFI_VARIABLE.APPEND_WRITE : 0),
                timestamp: efiTimeFromDate(ts),
                data: bytes,
                signer: { certificate: parseCertificatePemOrDer(readInput(o.signCert)), key },
              });
            } finally {
              key.fill(0);
            }
          }
          writeOutput(out, bytes);
          ctx.result(
            { out, size: bytes.length, lists: inputs.length, signed: o.signCert !== undefined },
            `wrote ${bytes.length} bytes (${inputs.length} list(s)) to ${out}`,
          );
        },
      );
  },
};
