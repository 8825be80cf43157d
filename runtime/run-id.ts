/** @module runtime/run-id — time-ordered run ids (UUID version 7), so the run table's primary key grows at its end instead of at random places. */
import { randomFillSync } from 'node:crypto';

const POOL = Buffer.alloc(4096);
let offset = POOL.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Random bytes come from a refilled pool.
 * On every run's path: built by concatenating table lookups, with no array or closure per id.
 */
export function newRunId(nowMs: number = Date.now()): string {
  if (offset + 10 > POOL.length) {
    randomFillSync(POOL);
    offset = 0;
  }
  const time = Math.max(0, Math.floor(nowMs));
  // 48 bits: the high 16 and the low 32, each exact in a double.
  const high = Math.floor(time / 0x1_0000_0000) & 0xffff;
  const low = time % 0x1_0000_0000;
  const p = POOL;
  const o = offset;
  offset += 10;
  const id =
    HEX[high >>> 8]! + HEX[high & 0xff]! + HEX[low >>> 24]! + HEX[(low >>> 16) & 0xff]! + '-' + HEX[(low >>> 8) & 0xff]! + HEX[low & 0xff]! + '-' +
    HEX[(p[o]! & 0x0f) | 0x70]! + HEX[p[o + 1]!]! + '-' + HEX[(p[o + 2]! & 0x3f) | 0x80]! + HEX[p[o + 3]!]! + '-' +
    HEX[p[o + 4]!]! + HEX[p[o + 5]!]! + HEX[p[o + 6]!]! + HEX[p[o + 7]!]! + HEX[p[o + 8]!]! + HEX[p[o + 9]!]!;
  return id;
}

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** True for an id of the form {@link newRunId} makes. */
export function isRunId(text: string): boolean {
  return RUN_ID.test(text);
}
