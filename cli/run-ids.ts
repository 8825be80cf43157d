/** @module cli/run-ids — how run ids are shown: their random end, which tells runs apart at a glance (their start is a timestamp). */

/**
 * Characters of a run id's end shown in lists. A UUIDv7 starts with 48 bits of milliseconds, so runs of one burst
 * share their first 8 characters; its last 8 are random (32 bits), so a screen of runs practically never repeats one.
 * Any part of that length or longer can be typed back where an id is expected (`RunQueries.resolveId`).
 */
export const SHORT_ID_LENGTH = 8;

/** The id as lists show it: its random end, or the whole id. */
export function displayRunId(id: string, isFull = false): string {
  return isFull ? id : id.slice(-SHORT_ID_LENGTH);
}
