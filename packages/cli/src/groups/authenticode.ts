import { FileDevice, UsageError, toHex } from '@lsvm/core';
import {
  type Certificate,
  DIGEST_LENGTHS,
  type DigestAlgorithm,
  type ImageVerification,
  type SignatureList,
  authenticodeDigestDevice,
  extractSignature,
  parseCertificatePemOrDer,
  parseTrustInput,
  pemCertificates,
  removeSignature,
  signImage,
  signatureDatabase,
  verifyImage,
} from '@lsvm/pe-authenticode';
import type { CliGroup } from '../group.js';
import { safeText } from '../terminal-safe.js';
import { readInput, writeOutput } from './pe.js';

function algorithm(a: string | undefined): DigestAlgorithm {
  const alg = (a ?? 'sha256').toLowerCase().replace('-', '');
  if (!(alg in DIGEST_LENGTHS))
    throw new UsageError('USAGE', `--alg must be one of ${Object.keys(DIGEST_LENGTHS).join(', ')}`);
  return alg as DigestAlgorithm;
}

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

function verificationJson(v: ImageVerification): unknown {
  return {
    trusted: v.trusted,
    reason: v.reason,
    forbidden: v.forbidden,
    allowedByHash: v.allowedByHash,
    undecodable: v.undecodable,
    signatures: v.signatures.map((s) => ({
      path: s.path,
      trusted: s.trusted,
      failures: s.failures,
      digestAlgorithm: s.digestAlgorithm,
      signedDigest: toHex(s.signedDigest),
      computedDigest: s.computedDigest ? toHex(s.computedDigest) : undefined,
      signer: s.signer
        ? { subject: s.signer.subject, issuer: s.signer.issuer, serial: s.signer.serial }
        : undefined,
      chain: s.chain.map((c) => c.subject),
      anchor: s.anchor?.subject,
      timestamps: s.timestamps.map((t) => ({
        kind: t.kind,
        time: t.time?.toISOString(),
        valid: t.valid,
        failures: t.failures,
      })),
    })),
  };
}

/** `lsvm authenticode …` — digests, verification and signing of PE images. */
export const authenticodeGroup: CliGroup = {
  name: 'authenticode',
  description: 'Authenticode digests, signature verification, signing and signature removal',
  register(cmd, ctx) {
    cmd
      .command('digest')
      .argument('<file>', 'PE image')
      .option('--alg <alg>', 'sha1, sha256, sha384 or sha512', 'sha256')
      .option(
        '--unpadded',
        'for an unsigned image whose length is not a multiple of 8: omit the padding a signature would cover',
      )
      .option('--linear', "osslsigncode's linear method instead of the section-sorted one firmware uses")
      .description('print the Authenticode digest (hex), streaming the file')
      .action(async (file: string, o: { alg?: string; unpadded?: boolean; linear?: boolean }) => {
        const alg = algorithm(o.alg);
        const dev = await FileDevice.open(file, { readOnly: true });
        const bar = ctx.progress('hashing');
        try {
          const d = await authenticodeDigestDevice(dev, {
            algorithm: alg,
            padded: o.unpadded !== true,
            method: o.linear ? 'linear' : 'sections',
            onProgress: bar,
          });
          bar.done();
          ctx.result(
            {
              file,
              algorithm: alg,
              padded: o.unpadded !== true,
              method: o.linear ? 'linear' : 'sections',
              digest: toHex(d),
            },
            toHex(d),
          );
        } finally {
          await dev.close();
        }
      });

    cmd
      .command('verify')
      .argument('<file>', 'signed PE image')
      .option(
        '--trust <file>',
        'trust anchor: certificate (DER or PEM), db ESL or db authenticated variable; repeatable',
        collect,
      )
      .option(
        '--dbx <file>',
        'forbidden signatures: dbx ESL or dbx update (authenticated variable); repeatable',
        collect,
      )
      .option('--check-time', 'check certificate validity at the timestamp (or now); firmware does not')
      .option('--no-eku', 'do not require the code-signing EKU on certificates that carry an EKU')
      .description('verify every signature; exit 0 when trusted, 1 when not (with the reason per signature)')
      .action((file: string, o: { trust?: string[]; dbx?: string[]; checkTime?: boolean; eku?: boolean }) => {
        const trust: Certificate[] = [];
        const dbLists: SignatureList[] = [];
        for (const t of o.trust ?? []) {
          const ti = parseTrustInput(readInput(t));
          trust.push(...ti.certificates);
          dbLists.push(...ti.lists);
        }
        const dbxLists: SignatureList[] = [];
        const dbxCerts: Certificate[] = [];
        for (const t of o.dbx ?? []) {
          const ti = parseTrustInput(readInput(t));
          dbxLists.push(...ti.lists);
          dbxCerts.push(...ti.certificates);
        }
        const dbx = signatureDatabase(dbxLists);
        dbx.certificates.push(...dbxCerts);
        const v = verifyImage(readInput(file), {
          trust,
          db: signatureDatabase(dbLists),
          dbx,
          checkTime: o.checkTime === true,
          requireCodeSigningEku: o.eku !== false,
        });
        if (!v.trusted) ctx.findings();
        ctx.result(verificationJson(v), () => {
          const l: string[] = [];
          for (const s of v.signatures) {
            l.push(
              s.signer
                ? safeText`signature ${s.path}: ${s.trusted ? 'trusted' : 'NOT trusted'} — ${s.signer.subject}`
                : safeText`signature ${s.path}: ${s.trusted ? 'trusted' : 'NOT trusted'} — unknown signer`,
            );
            if (s.anchor) l.push(safeText`  anchor ${s.anchor.subject}`);
            for (const f of s.failures) l.push(safeText`  ${f.code}: ${f.message}`);
            for (const t of s.timestamps)
              l.push(
                t.valid
                  ? safeText`  timestamp (${t.kind}) ${t.time?.toISOString() ?? '?'} valid`
                  : safeText`  timestamp (${t.kind}) ${t.time?.toISOString() ?? '?'} INVALID: ${t.failures.map((f) => f.code).join(', ')}`,
              );
          }
          for (const u of v.undecodable) l.push(safeText`entry ${u.index}: ${u.code}: ${u.message}`);
          if (v.allowedByHash) l.push(safeText`image ${v.allowedByHash} digest is listed in db`);
          l.push(
            v.trusted
              ? safeText`${file}: trusted`
              : safeText`${file}: NOT trusted: ${v.reason?.code}: ${v.reason?.message}`,
          );
          return l.join('\n');
        });
      });

    cmd
      .command('sign')
      .argument('<in>', 'PE image (signed or not; existing signatures are kept)')
      .argument('<out>', 'signed output')
      .requiredOption('--cert <file>', 'signer certificate (PEM or DER)')
      .requiredOption('--key <file>', 'private key (PEM or DER PKCS#8; RSA or EC)')
      .option('--chain <file>', 'intermediate certificates to include (PEM); repeatable', collect)
      .option('--alg <alg>', 'digest: sha256 (default), sha384, sha512, sha1', 'sha256')
      .option('--pss', 'RSA keys: sign with RSASSA-PSS (MGF1 with the same hash, salt as long as the hash)')
      .description('append an Authenticode signature')
      .action(
        async (
          input: string,
          out: string,
          o: { cert: string; key: string; chain?: string[]; alg?: string; pss?: boolean },
        ) => {
          const certificate = parseCertificatePemOrDer(readInput(o.cert));
          const chain = (o.chain ?? []).flatMap((f) =>
            pemCertificates(readInput(f)).map((d) => parseCertificatePemOrDer(d)),
          );
          const key = await ctx.readKeyFile(o.key);
          try {
            const signed = signImage(readInput(input), {
              certificate,
              chain,
              key,
              algorithm: algorithm(o.alg),
              pss: o.pss === true,
            });
            writeOutput(out, signed);
            ctx.result(
              { out, size: signed.length, signer: certificate.subject },
              safeText`signed ${out} as ${certificate.subject}`,
            );
          } finally {
            key.fill(0);
          }
        },
      );

    cmd
      .command('remove')
      .argument('<in>', 'signed PE image')
      .argument('<out>', 'output')
      .option('--index <n>', 'remove only certificate-table entry N (default: all)')
      .description('remove one signature or all of them')
      .action((input: string, out: string, o: { index?: string }) => {
        const index = o.index === undefined ? undefined : Number(o.index);
        if (index !== undefined && !Number.isInteger(index))
          throw new UsageError('USAGE', '--index must be an integer');
        const result = removeSignature(readInput(input), index);
        writeOutput(out, result);
        ctx.result({ out, size: result.length, removed: index ?? 'all' }, safeText`wrote ${out}`);
      });

    cmd
      .command('extract')
      .argument('<in>', 'signed PE image')
      .argument('<out>', 'where to write the PKCS#7 SignedData (DER)')
      .option('--index <n>', 'certificate-table entry (default 0)', '0')
      .description('extract one signature as DER PKCS#7')
      .action((input: string, out: string, o: { index: string }) => {
        const p7 = extractSignature(readInput(input), Number(o.index));
        writeOutput(out, p7);
        ctx.result({ out, size: p7.length }, safeText`wrote ${p7.length} bytes to ${out}`);
      });
  },
};
