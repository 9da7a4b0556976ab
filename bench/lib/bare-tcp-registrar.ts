// The connections part's same-run reference: the least a Node process can hold per idle SIP TCP connection. A bare
// net.Server that answers each REGISTER with 200 (its Contact kept in a Map, as a registrar keeps a binding) and each
// CRLFCRLF ping with a CRLF pong (RFC 5626 §3.5.1), and nothing else: no parser, no transactions, no store.
// Prints its port on stdout once listening; stops on SIGTERM or end of stdin. Loopback only.
import net from 'node:net';

const bindings = new Map<string, { socket: net.Socket; contact: string }>();
const header = (msg: string, name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(msg)?.[1]?.trim() ?? '';

const server = net.createServer((socket) => {
  let pending = '';
  socket.on('data', (d: Buffer) => {
    pending += d.toString('latin1');
    for (;;) {
      if (pending.startsWith('\r\n\r\n')) { socket.write('\r\n'); pending = pending.slice(4); continue; }
      const end = pending.indexOf('\r\n\r\n');
      if (end < 0) break;
      const msg = pending.slice(0, end + 2); // no bodies in this load
      pending = pending.slice(end + 4);
      if (!msg.startsWith('REGISTER ')) continue;
      const to = header(msg, 'To');
      bindings.set(to, { socket, contact: header(msg, 'Contact') });
      socket.write(`SIP/2.0 200 OK\r\nVia: ${header(msg, 'Via')}\r\nFrom: ${header(msg, 'From')}\r\nTo: ${to};tag=bare\r\n` +
        `Call-ID: ${header(msg, 'Call-ID')}\r\nCSeq: ${header(msg, 'CSeq')}\r\nContact: ${header(msg, 'Contact')};expires=${header(msg, 'Expires')}\r\n` +
        'Content-Length: 0\r\n\r\n', 'latin1');
    }
  });
  socket.on('error', () => socket.destroy());
});
server.maxConnections = 1_000_000;
server.listen(0, '127.0.0.1', 4096, () => {
  process.stdout.write(`${(server.address() as net.AddressInfo).port}\n`);
});
const stop = (): void => { server.close(); for (const b of bindings.values()) b.socket.destroy(); process.exit(0); };
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
