// The user names the CLI takes (users add, users import): one home for users-csv.ts and admin.ts.
export const USER_RE = /^[A-Za-z0-9_.!~*'()&=+$,;?/-]{1,64}$/; // RFC 3261 §25.1 user (unreserved and user-unreserved), no escapes
