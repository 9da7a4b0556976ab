// A tiny DNS server on 127.0.0.1 (UDP, port 0) for the RFC 3263 tests: it answers A, AAAA and SRV questions from a
// zone the test holds (and may change), RFC 1035 §4 messages built by hand. A name of the zone without records of the
// type asked gets NOERROR with no answer (ENODATA); a name not in the zone gets NXDOMAIN (ENOTFOUND).
import dgram from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface SrvData {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface ZoneEntry {
  A?: string[];
  AAAA?: string[];
  SRV?: SrvData[];
  /** seconds (default 60) */
  ttl?: number;
}

const TYPE = { A: 1, AAAA: 28, SRV: 33 } as const;

export class FakeDns {
  /** name (lower case, no trailing dot) → records; the test may change it between questions */
  readonly zone = new Map<string, ZoneEntry>();
  /** every question asked, as "TYPE name" */
  readonly questions: string[] = [];
  readonly #socket: dgram.Socket;

  private constructor(socket: dgram.Socket) {
    this.#socket = socket;
    socket.on('message', (msg, rinfo) => {
      const answer = this.#answer(msg);
      if (answer !== null) socket.send(answer, rinfo.port, rinfo.address);
    });
  }

  static async start(): Promise<FakeDns> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new FakeDns(socket);
  }

  /** for Resolver.setServers / the TV agent's dnsServers */
  get server(): string {
    return `127.0.0.1:${(this.#socket.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }

  #answer(q: Buffer): Buffer | null {
    if (q.length < 12) return null;
    const id = q.readUInt16BE(0);
    // the question: labels, then type and class (RFC 1035 §4.1.2)
    const labels: string[] = [];
    let at = 12;
    while (at < q.length && q[at] !== 0) {
      labels.push(q.subarray(at + 1, at + 1 + q[at]).toString('latin1'));
      at += 1 + q[at];
    }
    at++;
    if (at + 4 > q.length) return null;
    const type = q.readUInt16BE(at);
    const question = q.subarray(12, at + 4);
    const name = labels.join('.').toLowerCase();
    const typeName = (Object.keys(TYPE) as (keyof typeof TYPE)[]).find((k) => TYPE[k] === type);
    this.questions.push(`${typeName ?? type} ${name}`);
    const entry = this.zone.get(name);
    const answers: Buffer[] = [];
    if (entry !== undefined && typeName !== undefined) {
      const ttl = entry.ttl ?? 60;
      const rr = (rdata: Buffer): Buffer => {
        const head = Buffer.alloc(12);
        head.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
        head.writeUInt16BE(type, 2);
        head.writeUInt16BE(1, 4); // IN
        head.writeUInt32BE(ttl, 6);
        head.writeUInt16BE(rdata.length, 10);
        return Buffer.concat([head, rdata]);
      };
      if (typeName === 'A') for (const a of entry.A ?? []) answers.push(rr(Buffer.from(a.split('.').map(Number))));
      if (typeName === 'AAAA') for (const a of entry.AAAA ?? []) answers.push(rr(ipv6Bytes(a)));
      if (typeName === 'SRV') {
        for (const s of entry.SRV ?? []) {
          const fixed = Buffer.alloc(6);
          fixed.writeUInt16BE(s.priority, 0);
          fixed.writeUInt16BE(s.weight, 2);
          fixed.writeUInt16BE(s.port, 4);
          answers.push(rr(Buffer.concat([fixed, encodeName(s.target)])));
        }
      }
    }
    const header = Buffer.alloc(12);
    header.writeUInt16BE(id, 0);
    // QR, AA, RD (copied), RA; RCODE 3 (NXDOMAIN) for a name not in the zone
    header.writeUInt16BE(0x8400 | (q.readUInt16BE(2) & 0x0100) | 0x0080 | (entry === undefined ? 3 : 0), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(answers.length, 6);
    return Buffer.concat([header, question, ...answers]);
  }
}

function encodeName(name: string): Buffer {
  const parts = name.replace(/\.$/, '').split('.').filter((l) => l !== '');
  return Buffer.concat([...parts.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function ipv6Bytes(a: string): Buffer {
  const [head, tail = ''] = a.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = a.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}
