// The child side of the child_process.fork peer: evaluates the workload script it was given (argv, so the child
// loads nothing else), says ready, then answers runs over IPC.
import vm from 'node:vm';

vm.runInThisContext(process.argv[2]);
process.on('message', (json) => process.send(globalThis.__run(json)));
process.send('ready');
