// A trunk's OPTIONS ping (FreeSWITCH's gateway `ping`, Kamailio's dispatcher probing, Asterisk's qualify): an
// OPTIONS every `ping` seconds (RFC 3261 §11); any answer 2xx–4xx means the carrier is there, no answer means down.
import type { Clock, TimerHandle } from '../clock.ts';
import type { TrunkConfig } from '../config/profile.ts';
import type { Logger } from '../log/logger.ts';
import { newCallId, newTag } from '../sip/ids.ts';
import { SipRequest, type SipResponse } from '../sip/message.ts';
import { trunkDomain, trunkUser } from './trunk-calls.ts';
import type { Target } from '../transport/transport.ts';

export type PingState = 'up' | 'down' | 'unknown' | 'off';

export interface PingPort {
  clock: Clock;
  log: Logger;
  send(req: SipRequest, target: Target): Promise<SipResponse | null>;
  target(): Promise<Target | null>;
  /** our address as the carrier sees it on this flow (for the From and Contact) */
  contact(target: Target): string;
  onChange?(state: PingState): void;
}

export class OptionsPing {
  readonly trunk: TrunkConfig;
  readonly #port: PingPort;
  readonly #callId = newCallId();
  #seq = 0;
  #state: PingState;
  #lastStatus: number | null = null;
  #timer: TimerHandle | null = null;
  #stopped = false;

  constructor(trunk: TrunkConfig, port: PingPort) {
    this.trunk = trunk;
    this.#port = port;
    this.#state = trunk.ping > 0 ? 'unknown' : 'off';
  }

  get state(): PingState {
    return this.#state;
  }

  get lastStatus(): number | null {
    return this.#lastStatus;
  }

  start(): void {
    if (this.trunk.ping > 0 && !this.#stopped) this.#schedule(0);
  }

  /** One OPTIONS now (the timer calls it). */
  async ping(): Promise<void> {
    const target = await this.#port.target();
    let res: SipResponse | null = null;
    if (target !== null) {
      const t = this.trunk;
      const domain = trunkDomain(t);
      const contact = this.#port.contact(target);
      const req = new SipRequest('OPTIONS', `sip:${t.host}:${t.port}${t.transport === 'udp' ? '' : `;transport=${t.transport}`}`);
      req.addHeader('From', `<sip:${trunkUser(t)}@${domain}>;tag=${newTag()}`);
      req.addHeader('To', `<sip:${t.host}:${t.port}>`);
      req.addHeader('Call-ID', this.#callId);
      req.addHeader('CSeq', `${++this.#seq} OPTIONS`);
      req.addHeader('Contact', `<${contact}>`);
      req.addHeader('Accept', 'application/sdp');
      req.addHeader('User-Agent', 'tvphone');
      res = await this.#port.send(req, target);
    }
    if (this.#stopped) return;
    this.#lastStatus = res?.status ?? null;
    // a 5xx/6xx says the carrier is there but will not serve us: as good as down for routing calls
    const up = res !== null && res.status >= 200 && res.status < 500;
    this.#set(up ? 'up' : 'down');
    this.#schedule(this.trunk.ping * 1000);
  }

  close(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#port.clock.clear(this.#timer);
    this.#timer = null;
  }

  #set(state: PingState): void {
    if (state === this.#state) return;
    this.#state = state;
    this.#port.log.info({ trunk: this.trunk.name, ping: state, status: this.#lastStatus }, `trunk ${this.trunk.name} ping ${state}`);
    this.#port.onChange?.(state);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#timer = this.#port.clock.set(() => {
      this.#timer = null;
      void this.ping();
    }, ms, undefined);
  }
}
