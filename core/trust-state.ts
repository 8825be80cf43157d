/** @module core/trust-state — the trust data that decides what runs, as one value: its canonical form, how two of them differ, and what vouches for it. */
import { canonicalJson } from './canonical-json.js';
import type { FactoryError } from './errors.js';
import type { KeyRecord, Revocation, VersionRetirement } from './trust-records.js';

/**
 * Everything that decides what runs outside dev: the keys (a root makes every certificate it issued trusted),
 * the revocations and the version retirements.
 */
export interface TrustState {
  keys: readonly KeyRecord[];
  revocations: readonly Revocation[];
  retirements: readonly VersionRetirement[];
}

export type TrustTable = 'keys' | 'revocations' | 'retirements';

/** Rows a legitimate change wrote, by table: key and revocation ids, retirements as {@link retirementId}. */
export type TrustRowIds = Partial<Record<TrustTable, readonly string[]>>;

/** One difference between the state a seal vouches for and the one found. */
export interface TrustChange {
  table: TrustTable;
  change: 'added' | 'removed' | 'edited';
  /** The row: a key id (and name), a revoked key id, or `name@version`. */
  row: string;
}

/**
 * What vouches for trust data from outside the place it is kept (store/trust-seal: a keyed checkpoint in the keys
 * folder). A store calls {@link check} when it (re)loads its data, never per read, and {@link update} after each of
 * its own changes, under its write lock.
 */
export interface TrustStateSeal {
  /** Where the seal lives, for messages. */
  readonly location: string;
  /**
   * The error to fail closed with outside dev, or undefined when `state` is what the seal vouches for (rows it does
   * not know that only refuse more, added revocations and retirements, are accepted). A state never sealed is
   * adopted when this process can write the seal.
   */
  check(state: TrustState, text: string): FactoryError | undefined;
  /**
   * Seals the rows a legitimate change wrote (`touched`), as they are in `state`, on top of what was sealed: rows
   * someone else changed stay as sealed, so the change neither hides nor adopts tampering.
   * @throws FactoryError `E_TRUST_STATE` when the seal cannot be read or written.
   */
  update(state: TrustState, touched: TrustRowIds): void;
}

/** The id of a retirement row. */
export function retirementId(retirement: Pick<VersionRetirement, 'name' | 'version'>): string {
  return `${retirement.name}@${retirement.version}`;
}

/** Rows by id, per table, in canonical order. */
export function rowsById(state: TrustState): Record<TrustTable, Map<string, object>> {
  return {
    keys: new Map(state.keys.map((key) => [key.id, key])),
    revocations: new Map(state.revocations.map((revocation) => [revocation.id, revocation])),
    retirements: new Map(state.retirements.map((retirement) => [retirementId(retirement), retirement])),
  };
}

/**
 * The canonical JSON text of a state: rows sorted by id, fields as records (not columns), so a MAC over it covers
 * every field and is the same however the rows were read.
 * @throws TypeError when a field has no JSON form (a number column set to infinity).
 */
export function trustStateText(state: TrustState): string {
  const sorted = (rows: Map<string, object>) => [...rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, row]) => row);
  const byId = rowsById(state);
  return canonicalJson({ keys: sorted(byId.keys), revocations: sorted(byId.revocations), retirements: sorted(byId.retirements) });
}

/** How `found` differs from `sealed`, row by row. */
export function diffTrustState(sealed: TrustState, found: TrustState): TrustChange[] {
  const before = rowsById(sealed);
  const after = rowsById(found);
  const changes: TrustChange[] = [];
  for (const table of ['keys', 'revocations', 'retirements'] as const) {
    for (const [id, row] of after[table]) {
      const was = before[table].get(id);
      if (!was) changes.push({ table, change: 'added', row: label(table, id, row) });
      else if (canonicalJson(was) !== canonicalJson(row)) changes.push({ table, change: 'edited', row: label(table, id, row) });
    }
    for (const [id, row] of before[table]) if (!after[table].has(id)) changes.push({ table, change: 'removed', row: label(table, id, row) });
  }
  return changes;
}

/** True for a change that only refuses more: a revocation or a retirement added. Anyone may make those. */
export function isRestriction(change: TrustChange): boolean {
  return change.change === 'added' && change.table !== 'keys';
}

/** A change as a user reads it: `root 0123… (name) added`, `revocation of 0123… removed`. */
export function describeTrustChange(change: TrustChange): string {
  const what = change.table === 'keys' ? `key ${change.row}` : change.table === 'revocations' ? `revocation of key ${change.row}` : `retirement of ${change.row}`;
  return `${what} ${change.change}`;
}

function label(table: TrustTable, id: string, row: object): string {
  if (table !== 'keys') return id;
  const key = row as Partial<KeyRecord>;
  return `${id} (${String(key.role)} "${String(key.name)}")`;
}
