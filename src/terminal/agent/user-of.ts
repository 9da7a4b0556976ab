// The user part of a From/To value or a URI, for what the screen shows.
import { parseNameAddr } from '../../sip/headers.ts';
import { parseSipUri } from '../../sip/uri.ts';

/** "1001" from `"A" <sip:1001@host>;tag=x` or `sip:1001@host`; the host when there is no user; the text itself when unreadable. */
export function userOf(nameAddrOrUri: string): string {
  try {
    const uri = nameAddrOrUri.includes('<') || nameAddrOrUri.includes(';') ? parseNameAddr(nameAddrOrUri).uri : nameAddrOrUri;
    const u = parseSipUri(uri);
    return u.user ?? u.host;
  } catch {
    return nameAddrOrUri;
  }
}
