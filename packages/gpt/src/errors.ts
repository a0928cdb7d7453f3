/**
 * Stable error and finding codes of @lsvm/gpt. Codes never change meaning once published; callers
 * and the CLI's `--json` output branch on them, never on message text.
 */

/** Codes of the {@link GptFinding}s {@link validateGpt} reports, with what each one means. */
export const GPT_FINDING_CODES = {
  GPT_MBR_MISSING: 'sector 0 has no 0x55AA boot signature: the protective MBR is missing',
  GPT_MBR_NOT_PROTECTIVE: 'the MBR has no 0xEE protective record although a GPT is present',
  GPT_MBR_HYBRID: 'hybrid MBR: MBR partition records sit beside the 0xEE record',
  GPT_MBR_PROTECTIVE_START: 'the 0xEE record does not start at LBA 1',
  GPT_MBR_PROTECTIVE_SIZE: 'the 0xEE record does not cover the disk (size capped at 0xFFFFFFFF)',
  GPT_HEADER_SIGNATURE: 'header signature is not "EFI PART"',
  GPT_HEADER_REVISION: 'header revision is not 1.0 (0x00010000)',
  GPT_HEADER_SIZE: 'HeaderSize is below 92 or above the logical sector size',
  GPT_HEADER_CRC: 'HeaderCRC32 does not match the header',
  GPT_HEADER_RESERVED: 'the reserved header field is not zero',
  GPT_HEADER_LBA_RANGE: 'an LBA field does not fit a safe integer',
  GPT_HEADER_MY_LBA: 'MyLBA does not name the sector the header was read from',
  GPT_HEADER_ALTERNATE_LBA: 'AlternateLBA does not name the other header',
  GPT_HEADER_USABLE_RANGE:
    'FirstUsableLBA/LastUsableLBA are out of order, overlap the metadata or leave the disk',
  GPT_HEADER_ENTRY_SIZE: 'SizeOfPartitionEntry is not a non-zero multiple of 128',
  GPT_ENTRY_ARRAY_LOCATION:
    'the partition entry array overlaps a header, the usable range or leaves the disk',
  GPT_ENTRY_ARRAY_LIMIT: 'the partition entry array is larger than the configured limits',
  GPT_ENTRY_ARRAY_CRC: 'PartitionEntryArrayCRC32 does not match the array',
  GPT_ENTRY_ARRAY_SMALL: 'less than 16 KiB is reserved for a partition entry array',
  GPT_ENTRY_LBA_RANGE: 'a partition entry LBA does not fit a safe integer',
  GPT_BACKUP_NOT_AT_END: 'the backup header is not in the last sector of the disk',
  GPT_HEADERS_DIFFER: 'primary and backup headers disagree',
  GPT_ENTRY_END_BEFORE_START: 'a partition ends before it starts (EndingLBA is inclusive)',
  GPT_ENTRY_OUTSIDE_USABLE: 'a partition lies outside the usable LBA range',
  GPT_ENTRY_OVERLAP: 'two partitions overlap',
  GPT_ENTRY_DUPLICATE_GUID: 'two partitions share a UniquePartitionGUID',
  GPT_NO_VALID_HEADER: 'neither the primary nor the backup table is valid',
} as const;

/** A stable finding code. */
export type GptFindingCode = keyof typeof GPT_FINDING_CODES;

/**
 * How bad a finding is. `error`: the structure is broken (firmware or the kernel may ignore it);
 * `warning`: legal but suspicious or non-canonical (sgdisk also warns); `info`: worth knowing.
 */
export type GptSeverity = 'error' | 'warning' | 'info';

/** Which structure a finding is about. */
export type GptLocation = 'mbr' | 'primary' | 'backup' | 'table';

/** One problem found by validation. */
export interface GptFinding {
  /** Stable code, see {@link GPT_FINDING_CODES}. */
  readonly code: GptFindingCode;
  readonly severity: GptSeverity;
  /** Which copy or structure. */
  readonly location: GptLocation;
  /** Human text with the actual and expected values. */
  readonly message: string;
  /** 1-based partition slot(s) concerned, for entry findings. */
  readonly partitions?: readonly number[];
}

/** Builds a finding (a helper so call sites stay one line). */
export function finding(
  code: GptFindingCode,
  severity: GptSeverity,
  location: GptLocation,
  message: string,
  partitions?: readonly number[],
): GptFinding {
  return partitions === undefined
    ? { code, severity, location, message }
    : { code, severity, location, message, partitions };
}
