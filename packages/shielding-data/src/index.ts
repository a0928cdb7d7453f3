/**
 * @lsvm/shielding-data — Guardians, key protectors, shielding data files (PDK), FSK and specialization.aes.
 * @packageDocumentation
 */
export {};
