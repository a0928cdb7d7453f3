import { FormatError, isGuid, normalizeGuid } from '@lsvm/core';

/**
 * `\EFI\boot\lsvmconf` — lsvmload's configuration on the ESP: one `Name=Value` per line, `#`
 * starts a comment line, whitespace around names and values is trimmed, and any key lsvmload does
 * not know is an error (lsvmload refuses to boot on one, so we refuse to write or accept one).
 */

/** Distribution directory under `\EFI\` where lsvmload finds shim and grub's configuration. */
export type EfiVendorDir = 'ubuntu' | 'redhat' | 'centos' | 'sles';
/** lsvmload's log levels. */
export type LsvmLogLevel = 'FATAL' | 'ERROR' | 'WARNING' | 'INFO' | 'DEBUG';

/** The parsed configuration. GUIDs and UUIDs are canonical lower-case strings. */
export interface LsvmConf {
  efiVendorDir: EfiVendorDir;
  /** LUKS header UUID of the boot volume. */
  bootDeviceLuks: string;
  /** LUKS header UUID of the root volume. */
  rootDeviceLuks: string;
  /** GPT unique partition GUID of the boot partition. */
  bootDevice: string;
  /** GPT unique partition GUID of the root partition. */
  rootDevice: string;
  logLevel?: LsvmLogLevel;
}

const VENDORS: readonly EfiVendorDir[] = ['ubuntu', 'redhat', 'centos', 'sles'];
const LEVELS: readonly LsvmLogLevel[] = ['FATAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG'];
const KEYS = {
  EFIVendorDir: 'efiVendorDir',
  BootDeviceLUKS: 'bootDeviceLuks',
  RootDeviceLUKS: 'rootDeviceLuks',
  BootDevice: 'bootDevice',
  RootDevice: 'rootDevice',
  LogLevel: 'logLevel',
} as const;
const REQUIRED = ['EFIVendorDir', 'BootDeviceLUKS', 'RootDeviceLUKS', 'BootDevice', 'RootDevice'] as const;
/** lsvmconf is a few hundred bytes; anything far larger is not one. */
const MAX_SIZE = 64 * 1024;

const bad = (message: string, line?: number): FormatError =>
  new FormatError('LSVMCONF_INVALID', line === undefined ? message : `line ${line}: ${message}`, {
    structure: 'lsvmconf',
  });

/** Parses lsvmconf text (UTF-8 or ASCII bytes, or a string). */
export function parseLsvmConf(input: string | Uint8Array): LsvmConf {
  if (typeof input !== 'string' && input.length > MAX_SIZE)
    throw bad(`file of ${input.length} bytes is too large`);
  const text = typeof input === 'string' ? input : new TextDecoder('utf-8', { fatal: false }).decode(input);
  const seen = new Map<string, string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) throw bad(`expected Name=Value, got ${JSON.stringify(line.slice(0, 80))}`, i + 1);
    const name = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (!(name in KEYS)) throw bad(`unknown key ${JSON.stringify(name.slice(0, 80))}`, i + 1);
    if (seen.has(name)) throw bad(`duplicate key ${name}`, i + 1);
    seen.set(name, value);
  }
  for (const k of REQUIRED) if (!seen.has(k)) throw bad(`missing key ${k}`);
  const vendor = seen.get('EFIVendorDir')!;
  if (!VENDORS.includes(vendor as EfiVendorDir))
    throw bad(`EFIVendorDir must be one of ${VENDORS.join(', ')}`);
  const guid = (k: string): string => {
    const v = seen.get(k)!;
    if (!isGuid(v)) throw bad(`${k} is not a GUID/UUID: ${JSON.stringify(v.slice(0, 80))}`);
    return normalizeGuid(v);
  };
  const conf: LsvmConf = {
    efiVendorDir: vendor as EfiVendorDir,
    bootDeviceLuks: guid('BootDeviceLUKS'),
    rootDeviceLuks: guid('RootDeviceLUKS'),
    bootDevice: guid('BootDevice'),
    rootDevice: guid('RootDevice'),
  };
  const level = seen.get('LogLevel');
  if (level !== undefined) {
    if (!LEVELS.includes(level as LsvmLogLevel)) throw bad(`LogLevel must be one of ${LEVELS.join(', ')}`);
    conf.logLevel = level as LsvmLogLevel;
  }
  return conf;
}

/** Serialises lsvmconf in a fixed key order, LF line endings. `parseLsvmConf` inverts it. */
export function serializeLsvmConf(conf: LsvmConf): string {
  const lines = [
    '# lsvmload configuration (written by lsvm)',
    `EFIVendorDir=${conf.efiVendorDir}`,
    `BootDeviceLUKS=${normalizeGuid(conf.bootDeviceLuks)}`,
    `RootDeviceLUKS=${normalizeGuid(conf.rootDeviceLuks)}`,
    `BootDevice=${normalizeGuid(conf.bootDevice)}`,
    `RootDevice=${normalizeGuid(conf.rootDevice)}`,
  ];
  if (conf.logLevel) lines.push(`LogLevel=${conf.logLevel}`);
  // Validate what we emit with the same rules we read with.
  const text = `${lines.join('\n')}\n`;
  parseLsvmConf(text);
  return text;
}
