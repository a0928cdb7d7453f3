/**
 * Fixed numbers of the VHDX format ([MS-VHDX] v20160714 and later). Sizes are in bytes.
 */

/** 1 MiB: the alignment of every region, block and the log ([MS-VHDX] §2.1). */
export const MiB = 1024 * 1024;
/** 64 KiB: size of the file type identifier and of each region table ([MS-VHDX] §2.2). */
export const KiB64 = 64 * 1024;
/** 4 KiB: size of a header, of a log sector and of a sector-bitmap sector ([MS-VHDX] §2.2.2, §2.3). */
export const SECTOR4K = 4096;

/** Offset of the file type identifier ([MS-VHDX] §2.2.1). */
export const FILE_IDENTIFIER_OFFSET = 0;
/** Offsets of the two headers ([MS-VHDX] §2.2.2). */
export const HEADER_OFFSETS = [64 * 1024, 128 * 1024] as const;
/** Offsets of the two region tables ([MS-VHDX] §2.2.3). */
export const REGION_TABLE_OFFSETS = [192 * 1024, 256 * 1024] as const;
/** The header section occupies the first 1 MiB; no region, log or block may start inside it. */
export const HEADER_SECTION_SIZE = MiB;

/** Region GUIDs ([MS-VHDX] §2.2.3.2). */
export const BAT_REGION_GUID = '2dc27766-f623-4200-9d64-115e9bfd4a08';
export const METADATA_REGION_GUID = '8b7ca206-4790-4b9a-b8fe-575f050f886e';

/** System metadata item GUIDs ([MS-VHDX] §2.6.2). */
export const FILE_PARAMETERS_GUID = 'caa16737-fa36-4d43-b3b6-33f0aa44e76b';
export const VIRTUAL_DISK_SIZE_GUID = '2fa54224-cd1b-4876-b211-5dbed83bf4b8';
export const VIRTUAL_DISK_ID_GUID = 'beca12ab-b2e6-4523-93ef-c309e000c746';
export const LOGICAL_SECTOR_SIZE_GUID = '8141bf1d-a96f-4709-ba47-f233a8faab5f';
export const PHYSICAL_SECTOR_SIZE_GUID = 'cda348c7-445d-4471-9cc9-e9885251c556';
export const PARENT_LOCATOR_GUID = 'a8d35f2d-b30b-454d-abf7-d3d84834ab0c';
/** LocatorType of the VHDX parent locator ([MS-VHDX] §2.6.2.6.1). */
export const VHDX_PARENT_LOCATOR_TYPE = 'b04aefb7-d19e-4a81-b789-25b8e9445913';

/** Smallest and largest block sizes ([MS-VHDX] §2.6.2.1). */
export const MIN_BLOCK_SIZE = MiB;
export const MAX_BLOCK_SIZE = 256 * MiB;
/** Largest virtual disk ([MS-VHDX] §2.6.2.2): 64 TiB. */
export const MAX_VIRTUAL_DISK_SIZE = 64 * 1024 * 1024 * MiB;
/** Most entries a region table or the metadata table may hold ([MS-VHDX] §2.2.3.1, §2.6.1.1). */
export const MAX_TABLE_ENTRIES = 2047;
/** Largest metadata item ([MS-VHDX] §2.6.1.2). */
export const MAX_METADATA_ITEM_LENGTH = MiB;
/** A sector bitmap block is always 1 MiB ([MS-VHDX] §2.5.1.2), covering 2^23 sectors. */
export const SECTOR_BITMAP_BLOCK_SIZE = MiB;
export const SECTORS_PER_BITMAP_BLOCK = 2 ** 23;
