// The message-summary event package (RFC 3842): message waiting indication for a user's voice mailbox.
// new = voice messages not yet delivered (heard), old = delivered ones still kept; no urgency is kept (0/0).
import type { VoicemailStore } from '../store/store.ts';
import {
  buildMessageSummary, MESSAGE_SUMMARY_CONTENT_TYPE, MESSAGE_SUMMARY_EVENT, voiceSummary, type MessageCounts,
} from '../formats/message-summary.ts';
import { parseUri } from '../sip/uri.ts';
import type { EventPackage } from './notifier.ts';

export { MESSAGE_SUMMARY_EVENT } from '../formats/message-summary.ts';

/** The voice message counts of a user's mailbox. */
export async function mailboxCounts(store: Pick<VoicemailStore, 'listVoicemails'>, userId: string): Promise<MessageCounts> {
  const kept = await store.listVoicemails({ toUser: userId });
  return {
    new: kept.filter((v) => v.state === 'pending').length,
    old: kept.filter((v) => v.state === 'delivered').length,
    urgentNew: 0,
    urgentOld: 0,
  };
}

/** The message-summary body of a user's mailbox now (RFC 3842 §5). */
export async function mailboxSummary(store: Pick<VoicemailStore, 'listVoicemails'>, userId: string, domain: string): Promise<Uint8Array> {
  return buildMessageSummary(voiceSummary(`sip:${userId}@${domain}`, await mailboxCounts(store, userId)));
}

/** Is `watcher` (an AoR URI) the AoR of user `userId` in `domain`? */
function isOwnAoR(watcher: string, userId: string, domain: string): boolean {
  try {
    const u = parseUri(watcher);
    return u.scheme !== 'tel' && u.user === userId && u.host.toLowerCase() === domain.toLowerCase();
  } catch {
    return false;
  }
}

export function messageSummaryPackage(o: { store: Pick<VoicemailStore, 'listVoicemails'>; domain: string }): EventPackage {
  return {
    name: MESSAGE_SUMMARY_EVENT,
    contentType: MESSAGE_SUMMARY_CONTENT_TYPE,
    // RFC 3842 §4.4: the default subscription duration is one hour
    defaultExpires: 3600,
    // a mailbox is private: its owner alone may subscribe to it (RFC 3842 §4.6: the notifier authorizes the subscriber)
    mayWatch: (watcher, userId) => isOwnAoR(watcher, userId, o.domain),
    body: (userId) => mailboxSummary(o.store, userId, o.domain),
  };
}
