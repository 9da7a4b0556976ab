// A flow (RFC 5626 §3.3): how a request reached us and so how to reach its sender again — the transport, the
// remote address and port, and the stream connection it came over. The transport's Source, a binding's and a
// subscription's next hop are all this one shape. Imports nothing (rank 0: store/ and transport/ both use it).

/** 'ws' and 'wss' are SIP over WebSocket (RFC 7118), accepted only: a WebSocket client is never dialled. */
export type TransportName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

export interface Flow {
  transport: TransportName;
  /** remote IP address, IPv6 without brackets */
  address: string;
  port: number;
  /** the transport's id of the stream connection (TCP/TLS/WS) it came over; null for UDP */
  connectionId: number | null;
}

/** The flow of a Source (or anything wider): only the four fields, so nothing else is kept with a binding. */
export function flowOf(f: Flow): Flow {
  return { transport: f.transport, address: f.address, port: f.port, connectionId: f.connectionId };
}
