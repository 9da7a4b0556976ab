// A presence subscription is a dialog (RFC 6665 §4.1.2.1, RFC 3261 §12.1.1: we are the UAS) plus event fields;
// the store keeps the dialog's fields flat in its `Subscription`. Pure.
import type { DialogState } from '../dialog/dialog-state.ts';
import type { Subscription } from '../store/store.ts';

/**
 * The notifier's dialog state of a stored subscription: local URI = the presentity entity, remote URI = the
 * watcher; local seq = the subscription's last NOTIFY CSeq. The store keeps no remote seq.
 */
export function subscriptionDialog(sub: Subscription, localUri: string, remoteUri: string): DialogState {
  return {
    callId: sub.callId, localTag: sub.localTag, remoteTag: sub.remoteTag, localUri, remoteUri,
    remoteTarget: sub.remoteTarget, routeSet: sub.routeSet, localSeq: sub.cseq, remoteSeq: null,
    secure: sub.remoteTarget.toLowerCase().startsWith('sips:'),
  };
}
