/** @module test/helpers/counting-server — a TCP server on 127.0.0.1 that counts connections: what a blocked connect must never reach. */
import net from 'node:net';

export interface CountingServer {
  readonly port: number;
  /** Connections accepted since the start or the last `reset()`. */
  readonly connections: number;
  reset(): void;
  close(): Promise<void>;
}

/** Listens on an ephemeral loopback port; every connection is counted and closed at once. */
export async function listenCounting(): Promise<CountingServer> {
  let connections = 0;
  const server = net.createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    get connections() {
      return connections;
    },
    reset: () => {
      connections = 0;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
