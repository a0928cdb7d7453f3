/**
 * provision-vm: the tenant's and the fabric's flow. The owner makes shielding data (a PDK) that
 * only the fabric's guardian can open and that accepts only templates signed by the owner's signer
 * (VolumeIdQualifier); the host opens it with the guardian key, checks the template, clones it,
 * re-keys both volumes, seals the keys to the VM's TPM and writes the specialization data.
 * Needs DIR from protect-template and a running TPM, e.g.
 *   swtpm socket --tpm2 --server type=tcp,port=2321 --ctrl type=tcp,port=2322 \
 *     --tpmstate dir=/tmp/vtpm --flags not-need-init,startup-clear
 * Usage: pnpm example provision-vm <dir> --tcti swtpm:host=127.0.0.1,port=2321
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { provision } from '@lsvm/provisioning';
import { createPdk, exportGuardian, generateGuardian, openPdk, writeGuardianDir } from '@lsvm/shielding-data';
import { certificateThumbprint } from '@lsvm/vsc';

export async function main(args: string[]): Promise<string[]> {
  const dir = args[0];
  const tcti = args.indexOf('--tcti') >= 0 ? args[args.indexOf('--tcti') + 1] : undefined;
  if (!dir || !tcti) throw new Error('usage: provision-vm <dir> --tcti T');
  const out: string[] = [];

  // The owner and the fabric's guardian (the Host Guardian Service holds its private key).
  const owner = generateGuardian('Owner', { algorithm: 'p256' });
  const fabric = generateGuardian('Fabric', { algorithm: 'p256' });
  writeGuardianDir(join(dir, 'fabric-guardian'), fabric);

  // Shielding data: accept only "Sample" ≥ 1.0.0.0 signed by the owner's template signer.
  const signer = certificateThumbprint(new Uint8Array(readFileSync(join(dir, 'signer.der'))));
  const pdk = createPdk({
    owner,
    guardians: [exportGuardian(fabric)],
    viqs: [{ name: 'Sample', version: '1.0.0.0', rule: 'GreaterThanOrEquals', signer }],
    secrets: {
      answerFile: {
        name: 'unattend.xml',
        data: new TextEncoder().encode('<unattend>hostname=@ComputerName@</unattend>\n'),
      },
      files: [{ name: 'motd', data: new TextEncoder().encode('a shielded VM\n') }],
      credentials: [],
      sshKeys: [],
    },
  });
  writeFileSync(join(dir, 'vm.pdk'), pdk);
  const { info } = openPdk(pdk, fabric);
  out.push(
    `shielding data: policy ${info.policy}, ${info.viqs.length} VolumeIdQualifier(s), opened by ${fabric.name}`,
  );

  // Provision: every step reported, no secret in the report.
  const vm = join(dir, 'vm.vhdx');
  rmSync(vm, { force: true });
  const r = await provision(join(dir, 'template.vhdx'), vm, { pdk, guardian: fabric, tcti, clone: 'copy' });
  for (const s of r.steps) out.push(`${s.status.padEnd(7)} ${s.step} (${s.durationMs} ms)`);
  out.push(`VM disk ${r.vmDisk}: keys sealed to PCR 7 ${r.pcrs?.[7]} and PCR 11 ${r.pcrs?.[11]}`);
  return out;
}
