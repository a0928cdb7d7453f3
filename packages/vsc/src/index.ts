/**
 * @lsvm/vsc — The Volume Signature Catalog: a signed catalog of a template disk's blocks.
 * @packageDocumentation
 */
export {};
