import { UsageError } from '@lsvm/core';
import { DeviceTransport } from './transports/device.js';
import { MssimTransport } from './transports/mssim.js';
import { SwtpmTransport } from './transports/swtpm.js';
import type { TpmTransport } from './transports/transport.js';

/** A parsed TCTI string. */
export type TctiConfig =
  | { kind: 'swtpm'; host: string; port: number }
  | { kind: 'mssim'; host: string; port: number }
  | { kind: 'device'; path: string };

/**
 * Parses a TCTI configuration in tpm2-tools syntax: `swtpm:host=127.0.0.1,port=2321`,
 * `mssim:host=localhost,port=2321`, `device:/dev/tpmrm0`; bare `swtpm`, `mssim` and `device`
 * take tpm2-tss's defaults (localhost:2321, /dev/tpmrm0). Also accepts the `--tcti` shorthand
 * `swtpm:port=2321`.
 */
export function parseTcti(s: string): TctiConfig {
  const i = s.indexOf(':');
  const name = (i < 0 ? s : s.slice(0, i)).trim().replace(/^libtss2-tcti-|\.so(\.0)?$/g, '');
  const conf = i < 0 ? '' : s.slice(i + 1);
  if (name === 'device') return { kind: 'device', path: conf === '' ? '/dev/tpmrm0' : conf };
  if (name === 'swtpm' || name === 'mssim') {
    let host = '127.0.0.1';
    let port = 2321;
    if (conf !== '')
      for (const kv of conf.split(',')) {
        const [k, v] = kv.split('=', 2).map((x) => x.trim());
        if (k === 'host' && v) host = v;
        else if (k === 'port' && v && /^\d+$/.test(v) && Number(v) > 0 && Number(v) < 65536) port = Number(v);
        else throw new UsageError('TPM2_BAD_TCTI', `bad ${name} TCTI option '${kv}'`);
      }
    if (host === 'localhost') host = '127.0.0.1';
    return { kind: name, host, port };
  }
  throw new UsageError('TPM2_BAD_TCTI', `unsupported TCTI '${name}' (swtpm, mssim or device)`);
}

/** Opens the transport a TCTI string names. */
export function openTcti(s: string | TctiConfig): Promise<TpmTransport> {
  const c = typeof s === 'string' ? parseTcti(s) : s;
  switch (c.kind) {
    case 'swtpm':
      return SwtpmTransport.connect({ host: c.host, port: c.port });
    case 'mssim':
      return MssimTransport.connect({ host: c.host, port: c.port });
    case 'device':
      return DeviceTransport.open(c.path);
  }
}
