import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { FormatError, IoError, formatSize, toHex } from '@lsvm/core';
import {
  CERTIFICATE_TABLE_INDEX,
  MACHINE_NAMES,
  SUBSYSTEM_NAMES,
  digestReport,
  extractVendorCert,
  imageSignatures,
  parsePe,
} from '@lsvm/pe-authenticode';
import type { CliGroup } from '../group.js';

/** Reads an input file, turning a system error into an IoError (exit 3) naming the file. */
export function readInput(path: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new IoError('READ_FAILED', `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
}

/** Writes an output file through a temporary name and a rename, so a crash never leaves half a file. */
export function writeOutput(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.lsvm-tmp-${process.pid}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    throw new IoError('WRITE_FAILED', `cannot write ${path}: ${(e as Error).message}`, { cause: e });
  }
}

const hex32 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** `lsvm pe …` — PE/COFF inspection over @lsvm/pe-authenticode. */
export const peGroup: CliGroup = {
  name: 'pe',
  description: 'PE/COFF images (EFI binaries): headers, sections, signatures, SBAT, checksum',
  register(cmd, ctx) {
    cmd
      .command('info')
      .argument('<file>', 'PE image (EFI application, driver, kernel with EFI stub)')
      .description('headers, sections, signatures, SBAT entries, checksum and layout findings')
      .action((file: string) => {
        const bytes = readInput(file);
        const pe = parsePe(bytes);
        const sigs = imageSignatures(pe);
        let digests: ReturnType<typeof digestReport> | { error: string } | undefined;
        try {
          digests = digestReport(bytes, 'sha256', pe);
        } catch (e) {
          digests = { error: (e as Error).message };
        }
        const oh = pe.optional;
        const view = {
          file,
          size: pe.fileSize,
          format: oh.format,
          machine: MACHINE_NAMES[pe.coff.machine] ?? hex32(pe.coff.machine),
          subsystem: SUBSYSTEM_NAMES[oh.subsystem] ?? oh.subsystem,
          entryPoint: oh.addressOfEntryPoint,
          imageBase: oh.imageBase,
          sizeOfImage: oh.sizeOfImage,
          sizeOfHeaders: oh.sizeOfHeaders,
          sectionAlignment: oh.sectionAlignment,
          fileAlignment: oh.fileAlignment,
          dllCharacteristics: oh.dllCharacteristics,
          numberOfRvaAndSizes: oh.numberOfRvaAndSizes,
          checksum: pe.checksum,
          sections: pe.sections.map((s) => ({
            name: s.name,
            rawName: s.rawName,
            virtualAddress: s.virtualAddress,
            virtualSize: s.virtualSize,
            pointerToRawData: s.pointerToRawData,
            sizeOfRawData: s.sizeOfRawData,
            characteristics: s.characteristics,
          })),
          certificateTable: pe.certificateTable
            ? {
                offset: pe.certificateTable.offset,
                size: pe.certificateTable.size,
                error: pe.certificateTable.error,
              }
            : undefined,
          signatures: sigs.map((s) => ({
            index: s.entry.index,
            offset: s.entry.offset,
            length: s.entry.length,
            revision: s.entry.revision,
            type: s.entry.certificateType,
            error: s.error,
            digestAlgorithm: s.signature?.spc.digestAlgorithm ?? s.signature?.spc.digestAlgorithmOid,
            digest: s.signature ? toHex(s.signature.spc.digest) : undefined,
            signer: s.signature?.signer
              ? {
                  subject: s.signature.signer.subject,
                  issuer: s.signature.signer.issuer,
                  serial: s.signature.signer.serial,
                }
              : undefined,
            certificates: s.signature?.signedData.certificates.map((c) => c.subject),
            timestamps: s.signature?.timestamps.map((t) => ({
              kind: t.kind,
              time: t.time?.toISOString(),
              valid: t.valid,
              signer: t.signer?.subject,
            })),
            nested: s.signature?.nested.length ?? 0,
            pageHashes: s.signature?.spc.peImage?.pageHashes,
          })),
          sbat: pe.sbat?.map((e) => e.fields),
          vendorCert: (() => {
            try {
              const v = extractVendorCert(bytes, pe);
              return v
                ? { authorizedBytes: v.authorized.length, deauthorizedBytes: v.deauthorized.length }
                : undefined;
            } catch (e) {
              return { error: (e as Error).message };
            }
          })(),
          digests:
            digests && 'digest' in digests
              ? {
                  sha256: toHex(digests.digest),
                  sha256Unpadded: digests.unpadded ? toHex(digests.unpadded) : undefined,
                  sha256Linear: toHex(digests.linear),
                  methodsAgree: digests.methodsAgree,
                }
              : digests,
          findings: pe.findings,
        };
        if (pe.findings.some((f) => f.severity === 'error')) ctx.findings();
        ctx.result(view, () => {
          const l: string[] = [];
          l.push(
            `${file}: ${view.format} ${view.machine} ${view.subsystem}, ${formatSize(pe.fileSize)} (${pe.fileSize} bytes)`,
          );
          l.push(
            `  entry ${hex32(oh.addressOfEntryPoint)}  image base 0x${oh.imageBase.toString(16)}  SizeOfImage ${hex32(oh.sizeOfImage)}  SizeOfHeaders ${hex32(oh.sizeOfHeaders)}`,
          );
          l.push(
            `  checksum stored ${hex32(pe.checksum.stored)} computed ${hex32(pe.checksum.computed)} ${pe.checksum.matches ? 'ok' : 'MISMATCH'}`,
          );
          l.push(
            `  data directories: ${oh.numberOfRvaAndSizes}${oh.dataDirectories.length > CERTIFICATE_TABLE_INDEX ? '' : ' (no certificate table directory)'}`,
          );
          l.push('sections:');
          l.push('  #  name            vaddr      vsize      offset     rawsize    flags');
          for (const s of pe.sections) {
            const name = s.rawName !== s.name ? `${s.name} (${s.rawName})` : s.name;
            l.push(
              `  ${String(s.index).padStart(2)} ${name.padEnd(15)} ${hex32(s.virtualAddress)} ${hex32(s.virtualSize)} ${hex32(s.pointerToRawData)} ${hex32(s.sizeOfRawData)} ${hex32(s.characteristics)}`,
            );
          }
          if (pe.certificateTable) {
            l.push(
              `certificate table: offset ${pe.certificateTable.offset}, ${pe.certificateTable.size} bytes, ${sigs.length} entr${sigs.length === 1 ? 'y' : 'ies'}${pe.certificateTable.error ? ` — ${pe.certificateTable.error.message}` : ''}`,
            );
            for (const s of view.signatures) {
              if (s.error) {
                l.push(`  [${s.index}] ${s.error.code}: ${s.error.message}`);
                continue;
              }
              l.push(`  [${s.index}] ${s.digestAlgorithm} ${s.digest}`);
              l.push(`      signer  ${s.signer?.subject ?? '(certificate not in signature)'}`);
              l.push(`      issuer  ${s.signer?.issuer ?? '?'}`);
              for (const t of s.timestamps ?? [])
                l.push(
                  `      ${t.kind} ${t.time ?? '?'} ${t.valid ? 'valid' : 'INVALID'}${t.signer ? ` by ${t.signer}` : ''}`,
                );
              if (s.nested > 0) l.push(`      ${s.nested} nested signature(s)`);
            }
          } else l.push('not signed');
          if (view.sbat) {
            l.push('sbat:');
            for (const f of view.sbat) l.push(`  ${f.join(',')}`);
          }
          if (view.digests && 'sha256' in view.digests) {
            l.push(
              `authenticode sha256 ${view.digests.sha256}${view.digests.sha256Unpadded ? ` (unpadded ${view.digests.sha256Unpadded})` : ''}`,
            );
            if (!view.digests.methodsAgree)
              l.push(`  linear digest differs: ${view.digests.sha256Linear} — data outside the sections`);
          } else if (view.digests)
            l.push(`authenticode digest: ${(view.digests as { error: string }).error}`);
          for (const f of pe.findings) l.push(`${f.severity}: ${f.code}: ${f.message}`);
          return l.join('\n');
        });
      });

    cmd
      .command('vendor-cert')
      .argument('<file>', 'shim binary')
      .argument('<out>', 'where to write the DER certificate')
      .option('--dbx <file>', "also write shim's built-in vendor dbx (an ESL) to FILE")
      .description("extract shim's built-in vendor certificate (.vendor_cert section)")
      .action((file: string, out: string, o: { dbx?: string }) => {
        const bytes = readInput(file);
        const v = extractVendorCert(bytes, parsePe(bytes));
        if (!v) throw new FormatError('NO_VENDOR_CERT', `${file} has no .vendor_cert section`);
        writeOutput(out, v.authorized);
        if (o.dbx) writeOutput(o.dbx, v.deauthorized);
        ctx.result(
          { out, bytes: v.authorized.length, dbx: o.dbx, dbxBytes: v.deauthorized.length },
          `wrote ${v.authorized.length} bytes to ${out}`,
        );
      });
  },
};
