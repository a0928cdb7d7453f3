/**
 * Hands block hashes to `onBlocks` strictly in block order although the units of work (chunks,
 * stripes) that produce them finish out of order, and records them in the volume's hash list.
 * Shared by both hashing paths of {@link hashVolume}.
 */
export class OrderedDelivery {
  private readonly pending = new Map<number, Uint8Array>();
  private next = 0;
  /** True once `onBlocks` returned `false`: nothing more is delivered. */
  stopped = false;
  /** Blocks delivered so far (a prefix of the volume). */
  deliveredBlocks = 0;

  /**
   * @param blockHashes the volume's hash list, filled as units are delivered
   * @param digestLength bytes per digest
   * @param blocksPerUnit blocks in every unit but possibly the last
   * @param onBlocks the caller's consumer; returning `false` stops delivery
   */
  constructor(
    private readonly blockHashes: Uint8Array,
    private readonly digestLength: number,
    private readonly blocksPerUnit: number,
    private readonly onBlocks?: (firstBlock: number, hashes: Uint8Array) => boolean | undefined,
  ) {}

  /** Records the hashes of unit `unit` (0-based) and delivers every unit now complete in order. */
  add(unit: number, hashes: Uint8Array): void {
    this.pending.set(unit, hashes);
    while (!this.stopped) {
      const h = this.pending.get(this.next);
      if (h === undefined) return;
      this.pending.delete(this.next);
      const firstBlock = this.next * this.blocksPerUnit;
      this.blockHashes.set(h, firstBlock * this.digestLength);
      this.next++;
      this.deliveredBlocks = firstBlock + h.length / this.digestLength;
      if (this.onBlocks?.(firstBlock, h) === false) this.stopped = true;
    }
  }
}
