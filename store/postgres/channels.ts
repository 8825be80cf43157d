/** @module store/postgres/channels — the names of the NOTIFY channels the run queue uses: a run was queued (runners wake), a run finished (its caller wakes; the payload is the run id). */
export const QUEUED_CHANNEL = 'af_run_queued';
export const DONE_CHANNEL = 'af_run_done';
