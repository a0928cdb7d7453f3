import { UsageError, isGuid, normalizeGuid } from '@lsvm/core';

/**
 * Well-known partition type GUIDs with a name and a short alias, from the UEFI spec (§5.3.3,
 * table 5-7), Microsoft's documentation and the systemd Discoverable Partitions Specification.
 * Aliases are what the CLI's `--type` accepts besides a GUID.
 */
export interface PartitionType {
  /** Upper-case canonical GUID, as sgdisk and sfdisk print them. */
  readonly guid: string;
  /** Human name, in the wording util-linux uses where it has one. */
  readonly name: string;
  /** Short lower-case alias. */
  readonly alias: string;
}

/** The table, in a stable order. */
export const PARTITION_TYPES: readonly PartitionType[] = Object.freeze([
  t('C12A7328-F81F-11D2-BA4B-00A0C93EC93B', 'EFI System', 'esp'),
  t('21686148-6449-6E6F-744E-656564454649', 'BIOS boot', 'bios-boot'),
  t('024DEE41-33E7-11D3-9D69-0008C781F39F', 'MBR partition scheme', 'mbr-scheme'),
  t('E3C9E316-0B5C-4DB8-817D-F92DF00215AE', 'Microsoft reserved', 'msft-reserved'),
  t('EBD0A0A2-B9E5-4433-87C0-68B6B72699C7', 'Microsoft basic data', 'msft-basic'),
  t('5808C8AA-7E8F-42E0-85D2-E1E90434CFB3', 'Microsoft LDM metadata', 'msft-ldm-metadata'),
  t('AF9B60A0-1431-4F62-BC68-3311714A69AD', 'Microsoft LDM data', 'msft-ldm-data'),
  t('DE94BBA4-06D1-4D40-A16A-BFD50179D6AC', 'Windows recovery environment', 'windows-re'),
  t('E75CAF8F-F680-4CEE-AFA3-B001E56EFC2D', 'Microsoft Storage Spaces', 'msft-storage-spaces'),
  t('0FC63DAF-8483-4772-8E79-3D69D8477DE4', 'Linux filesystem', 'linux'),
  t('4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709', 'Linux root (x86-64)', 'linux-root-x86-64'),
  t('44479540-F297-41B2-9AF7-D131D5F0458A', 'Linux root (x86)', 'linux-root-x86'),
  t('B921B045-1DF0-41C3-AF44-4C6F280D3FAE', 'Linux root (ARM-64)', 'linux-root-arm64'),
  t('69DAD710-2CE4-4E3C-B16C-21A1D49ABED3', 'Linux root (ARM)', 'linux-root-arm'),
  t('8484680C-9521-48C6-9C11-B0720656F69E', 'Linux /usr (x86-64)', 'linux-usr-x86-64'),
  t('75250D76-8CC6-458E-BD66-BD47CC81A812', 'Linux /usr (x86)', 'linux-usr-x86'),
  t('B0E01050-EE5F-4390-949A-9101B17104E9', 'Linux /usr (ARM-64)', 'linux-usr-arm64'),
  t('2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5', 'Linux root verity (x86-64)', 'linux-root-verity-x86-64'),
  t('DF3300CE-D69F-4C92-978C-9BFB0F38D820', 'Linux root verity (ARM-64)', 'linux-root-verity-arm64'),
  t('77FF5F63-E7B6-4633-ACF4-1565B864C0E6', 'Linux /usr verity (x86-64)', 'linux-usr-verity-x86-64'),
  t('0657FD6D-A4AB-43C4-84E5-0933C84B4F4F', 'Linux swap', 'swap'),
  t('933AC7E1-2EB4-4F13-B844-0E14E2AEF915', 'Linux home', 'home'),
  t('3B8F8425-20E0-4F3B-907F-1A25A76F98E8', 'Linux server data', 'srv'),
  t('4D21B016-B534-45C2-A9FB-5C16E091FD2D', 'Linux variable data', 'var'),
  t('7EC6F557-3BC5-4ACA-B293-16EF5DF639D1', 'Linux temporary data', 'tmp'),
  t('E6D6D379-F507-44C2-A23C-238F2A3DF928', 'Linux LVM', 'lvm'),
  t('A19D880F-05FC-4D3B-A006-743F0F84911E', 'Linux RAID', 'raid'),
  t('8DA63339-0007-60C0-C436-083AC8230908', 'Linux reserved', 'linux-reserved'),
  t('BC13C2FF-59E6-4262-A352-B275FD6F7172', 'Linux extended boot', 'xbootldr'),
  t('CA7D7CCB-63ED-4C53-861C-1742536059CC', 'Linux LUKS', 'luks'),
  t('7FFEC5C9-2D00-49B7-8941-3EA10A5586B7', 'Linux plain dm-crypt', 'dm-crypt'),
  t('FE3A2A5D-4F32-41A7-B725-ACCC3285A309', 'ChromeOS kernel', 'chromeos-kernel'),
  t('3CB8E202-3B7E-47DD-8A3C-7FF2A13CFCEC', 'ChromeOS root fs', 'chromeos-root'),
  t('48465300-0000-11AA-AA11-00306543ECAC', 'Apple HFS/HFS+', 'apple-hfs'),
  t('7C3457EF-0000-11AA-AA11-00306543ECAC', 'Apple APFS', 'apple-apfs'),
  t('516E7CB4-6ECF-11D6-8FF8-00022D09712B', 'FreeBSD data', 'freebsd-data'),
]);

function t(guid: string, name: string, alias: string): PartitionType {
  return Object.freeze({ guid, name, alias });
}

const byGuid = new Map(PARTITION_TYPES.map((p) => [p.guid.toLowerCase(), p]));
const byAlias = new Map(PARTITION_TYPES.map((p) => [p.alias, p]));

/** The well-known type with this GUID (any case), if any. */
export function partitionTypeByGuid(guid: string): PartitionType | undefined {
  return byGuid.get(guid.toLowerCase());
}

/** Human name of a type GUID; `Unused` for the nil GUID, `Unknown` otherwise. */
export function partitionTypeName(guid: string): string {
  if (/^0{8}-0{4}-0{4}-0{4}-0{12}$/.test(guid)) return 'Unused';
  return partitionTypeByGuid(guid)?.name ?? 'Unknown';
}

/**
 * Resolves `--type` input: an alias (`esp`, `linux-root-x86-64`…) or a GUID (braces optional, any
 * case). Returns the lower-case canonical GUID.
 * @throws UsageError `GPT_UNKNOWN_TYPE` for anything else
 */
export function resolvePartitionType(aliasOrGuid: string): string {
  const a = byAlias.get(aliasOrGuid.trim().toLowerCase());
  if (a) return a.guid.toLowerCase();
  if (isGuid(aliasOrGuid.trim())) return normalizeGuid(aliasOrGuid);
  throw new UsageError(
    'GPT_UNKNOWN_TYPE',
    `unknown partition type ${JSON.stringify(aliasOrGuid)}: use a GUID or one of ${PARTITION_TYPES.map((p) => p.alias).join(', ')}`,
  );
}
