/**
 * @lsvm/provisioning — Linux Shielded VM flows: sample template, check, protect, provision, boot unlock, validate.
 * @packageDocumentation
 */
export {};
