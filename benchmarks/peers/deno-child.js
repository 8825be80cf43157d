// The child side of the Deno peer, run with `deno run` and no permissions: evaluates the workload script from
// argv, prints "ready", then answers one JSON line per stdin line.
(0, eval)(Deno.args[0]);
const encoder = new TextEncoder();
const write = (line) => Deno.stdout.writeSync(encoder.encode(`${line}\n`));
write('ready');
const decoder = new TextDecoder();
let buffered = '';
for await (const chunk of Deno.stdin.readable) {
  buffered += decoder.decode(chunk, { stream: true });
  let newline;
  while ((newline = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, newline);
    buffered = buffered.slice(newline + 1);
    write(globalThis.__run(line));
  }
}
