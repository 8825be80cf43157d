/** @module store/postgres/channels — the names of the NOTIFY channels the run queue uses: a run was queued (runners wake), runs finished (their callers wake; the payload is their ids, joined by commas). */
export const QUEUED_CHANNEL = 'af_run_queued';
export const DONE_CHANNEL = 'af_run_done';
