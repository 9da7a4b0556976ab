// The presence agent (RFC 3856) of tvphone: the notifier (RFC 6665, notifier.ts) with the `presence` event package,
// and any other packages the server gives it (message-summary, RFC 3842). The state presence reports is the seed's
// User_netstate (user_property): open when the user has a binding.

import type { SipRequest } from '../sip/message.ts';
import { parseNameAddr } from '../sip/headers.ts';
import { parseUri } from '../sip/uri.ts';
import type { BindingChange, LocationStore, Presence, SubscriptionStore } from '../store/store.ts';
import { buildPidf, PIDF_CONTENT_TYPE, presenceDocument, tupleIdFor, type BasicStatus } from '../formats/pidf.ts';
import { Notifier, type EventPackage, type NotifierOptions, type WatchPolicy } from './notifier.ts';

export { eventPackage, type SendInDialog, type WatchPolicy } from './notifier.ts';

export interface PresenceOptions extends Omit<NotifierOptions, 'packages' | 'store'> {
  store: SubscriptionStore & Pick<LocationStore, 'getPresence'>;
  /** default: the watcher's AoR is in `domain` */
  mayWatch?: WatchPolicy;
  /** RFC 3856 §6.4: the default when the SUBSCRIBE has no Expires (3600) */
  defaultExpires?: number;
  /** watchers per presentity, subscriptions of every package counted (default 100); beyond it 503 */
  maxWatchers?: number;
  /** further event packages served by the same notifier (message-summary) */
  packages?: readonly EventPackage[];
}

export const PRESENCE_EVENT = 'presence';

function hostOf(uri: string): string | null {
  try {
    const u = parseUri(uri);
    return u.scheme === 'tel' ? null : u.host;
  } catch {
    return null;
  }
}

/** The default policy: a watcher whose AoR is in our domain. */
function sameDomain(domain: string): WatchPolicy {
  const d = domain.toLowerCase();
  return (watcher) => hostOf(watcher) === d;
}

export class PresenceAgent extends Notifier {
  readonly #domain: string;
  /** the package the notifier serves; reconfigure() changes its policy for the next SUBSCRIBE */
  readonly #presence: EventPackage;

  constructor(options: PresenceOptions) {
    const domain = options.domain;
    const store = options.store;
    const presence: EventPackage = {
      name: PRESENCE_EVENT,
      contentType: PIDF_CONTENT_TYPE,
      defaultExpires: options.defaultExpires ?? 3600,
      mayWatch: options.mayWatch ?? sameDomain(domain),
      body: async (presentity) => presenceBody(domain, presentity, await store.getPresence(presentity)),
    };
    super({ ...options, packages: [presence, ...(options.packages ?? [])] });
    this.#domain = domain;
    this.#presence = presence;
  }

  /** SIGHUP: a new watch policy and longest interval apply to the next SUBSCRIBE. */
  reconfigure(p: { maxExpires: number; mayWatch?: WatchPolicy }): void {
    this.setMaxExpires(p.maxExpires);
    this.#presence.mayWatch = p.mayWatch ?? sameDomain(this.#domain);
  }

  /**
   * A user's bindings changed: when User_netstate changed, NOTIFY every watcher of that user (open/closed).
   * Resolves once every NOTIFY was answered (or failed).
   */
  async netstateChanged(change: BindingChange): Promise<void> {
    if (!change.netstateChanged) return;
    await this.changed(PRESENCE_EVENT, change.userId, () => presenceBody(this.#domain, change.userId, change.presence), change.watchers);
  }
}

function presenceBody(domain: string, presentity: string, presence: Presence | null): Uint8Array {
  const basic: BasicStatus = presence?.netstate === 1 ? 'open' : 'closed';
  const entity = `sip:${presentity}@${domain}`;
  return new TextEncoder().encode(buildPidf(presenceDocument(entity, tupleIdFor(presentity), basic, presence?.since ?? null)));
}

/** The presentity user of a SUBSCRIBE: the user part of its To URI (helper for routing). */
export function presentityOf(req: SipRequest): string | null {
  try {
    const u = parseUri(parseNameAddr(req.header('to') ?? '', 'To').uri);
    return u.scheme === 'tel' ? u.number : u.user;
  } catch {
    return null;
  }
}
