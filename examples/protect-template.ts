/**
 * protect-template: the template owner's flow. Build a sample Linux template (or take yours),
 * check it is a valid lsvmload template, sign a Volume Signature Catalog of its boot and root
 * volumes into the ESP, and verify it back. Leaves in DIR: template.vhdx, signer.der, signer.key.pem.
 * Usage: pnpm example protect-template <dir> [--template existing.vhdx]
 */
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createCertificate } from '@lsvm/pe-authenticode';
import { checkTemplate, makeSampleTemplate, protectTemplate, verifyTemplate } from '@lsvm/provisioning';
import { certificateThumbprint } from '@lsvm/vsc';

export async function main(args: string[]): Promise<string[]> {
  const dir = args[0];
  if (!dir) throw new Error('usage: protect-template <dir> [--template existing.vhdx]');
  mkdirSync(dir, { recursive: true });
  const template = join(dir, 'template.vhdx');
  const given = args.indexOf('--template') >= 0 ? args[args.indexOf('--template') + 1] : undefined;
  const out: string[] = [];
  if (given) copyFileSync(given, template);
  else if (!existsSync(template)) {
    const s = await makeSampleTemplate(template, { size: 128 * 1024 * 1024 });
    out.push(
      `sample template ${template}: shim ${s.shim}, boot LUKS ${s.boot.luksUuid}, root LUKS ${s.root.luksUuid}`,
    );
  }

  // 1. Is it a template lsvmload can boot, with no per-VM secret in it?
  const check = await checkTemplate(template);
  out.push(
    `check: ${check.clean ? 'clean' : check.findings.map((f) => `${f.code} ${f.message}`).join('; ')}`,
  );
  if (!check.clean) return out;

  // 2. The owner's catalog signing key (self-signed here; a real owner uses their PKI).
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const signer = createCertificate({
    subject: [['CN', 'Example template signer']],
    publicKey: privateKey,
    issuerKey: privateKey,
  });
  writeFileSync(join(dir, 'signer.der'), signer.der);
  writeFileSync(join(dir, 'signer.key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });

  // 3. Protect: hash every block of boot and root, sign, store the catalog in the ESP.
  const p = await protectTemplate(template, {
    signer: { certificate: signer.der, privateKey },
    name: 'Sample',
    version: '1.0.0.0',
  });
  out.push(`protected: ${p.vscPath} (${p.vscBytes} bytes), name ${p.name}, version ${p.version}`);

  // 4. Anyone can verify it against the signer's thumbprint (what a VolumeIdQualifier pins).
  const thumbprint = certificateThumbprint(signer.der);
  const v = await verifyTemplate(template, { signerThumbprint: thumbprint });
  out.push(`verify: ${v.valid ? 'valid' : 'INVALID'}; signer thumbprint ${thumbprint}`);
  return out;
}
