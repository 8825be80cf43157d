/** @module store/zstd-frames — splits a zstd stream into its frames, so a multi-frame export can be read with a whole-frame decoder. */

const FRAME_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/**
 * Returns each frame of a zstd stream (RFC 8878 §3.1) as its own buffer. Walks frame headers and
 * block headers only; nothing is decompressed.
 * @throws Error for a stream that is not zstd or is cut short.
 */
export function splitZstdFrames(data: Uint8Array): Uint8Array[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const frames: Uint8Array[] = [];
  let at = 0;
  const need = (bytes: number) => {
    if (at + bytes > data.length) throw new Error('zstd stream is truncated');
  };
  while (at < data.length) {
    need(4);
    const start = at;
    const magic = view.getUint32(at, true);
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      need(8);
      at += 8 + view.getUint32(at + 4, true);
      continue;
    }
    if (magic !== FRAME_MAGIC) throw new Error(`not a zstd frame at byte ${at}`);
    at += 4;
    need(1);
    const descriptor = data[at] as number;
    at += 1;
    const contentSizeFlag = descriptor >> 6;
    const isSingleSegment = (descriptor >> 5) & 1;
    const hasChecksum = (descriptor >> 2) & 1;
    const dictIdFlag = descriptor & 3;
    const windowBytes = isSingleSegment ? 0 : 1;
    const dictBytes = [0, 1, 2, 4][dictIdFlag] as number;
    const contentSizeBytes = [isSingleSegment ? 1 : 0, 2, 4, 8][contentSizeFlag] as number;
    at += windowBytes + dictBytes + contentSizeBytes;
    for (;;) {
      need(3);
      const header = (data[at] as number) | ((data[at + 1] as number) << 8) | ((data[at + 2] as number) << 16);
      at += 3;
      const isLast = header & 1;
      const type = (header >> 1) & 3;
      const size = header >> 3;
      // An RLE block stores one byte however many it stands for.
      at += type === 1 ? 1 : size;
      if (isLast) break;
    }
    if (hasChecksum) at += 4;
    need(0);
    frames.push(data.subarray(start, at));
  }
  return frames;
}
