// Every peer the factory is compared with, in report order. Each peer: { name, unit, isolated, note, open() }.
// open() throws when the peer cannot start here; the caller reports it as skipped with that reason.
// A handle from open(): create(kind) → { run(json) → json, dispose() }, and close().
import childProcess from './child-process.mjs';
import deno from './deno.mjs';
import { ivmContext, ivmIsolate } from './isolated-vm.mjs';
import nodeVm from './node-vm.mjs';
import quickjs from './quickjs.mjs';
import workerThreads from './worker-threads.mjs';

export const PEERS = [ivmContext, ivmIsolate, nodeVm, quickjs, workerThreads, childProcess, deno];
