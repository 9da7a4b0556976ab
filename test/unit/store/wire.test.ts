// The SQLite worker's wire (store/sqlite/wire.ts): errors survive structured clone as their own classes.
import assert from 'node:assert/strict';
import { QuotaExceededError, StoreUnavailableError, TvphoneError } from '../../../src/errors.ts';
import { decodeError, encodeError, STORE_CALLS } from '../../../src/store/sqlite/wire.ts';

/** what crosses the thread boundary: encoded, structured-cloned, decoded */
const across = (err: unknown) => decodeError(structuredClone(encodeError(err)));

describe('SQLite worker wire', function () {
  it('rebuilds QuotaExceededError with its count, bytes, code and message', function () {
    const e = across(new QuotaExceededError('6002', { count: 3, bytes: 120 }));
    assert.ok(e instanceof QuotaExceededError && e instanceof TvphoneError);
    assert.deepEqual([e.name, e.code, e.count, e.bytes, e.message],
      ['QuotaExceededError', 'ERR_QUOTA', 3, 120, 'message quota of 6002 full (3 messages, 120 bytes pending)']);
  });

  it('rebuilds StoreUnavailableError and TvphoneError with their code, message and cause', function () {
    const driver = Object.assign(new Error('disk I/O error'), { code: 'ERR_SQLITE_ERROR', errcode: 10 });
    const u = across(new StoreUnavailableError('SQLite database x is unavailable: disk I/O error', { cause: driver }));
    assert.ok(u instanceof StoreUnavailableError);
    assert.deepEqual([u.name, u.code, u.message], ['StoreUnavailableError', 'ERR_STORE_UNAVAILABLE', 'SQLite database x is unavailable: disk I/O error']);
    assert.ok(u.cause instanceof Error);
    assert.deepEqual([(u.cause as Error).message, (u.cause as { errcode?: number }).errcode], ['disk I/O error', 10]);
    const t = across(new TvphoneError('ERR_USER_EXISTS', 'user 1001 already exists'));
    assert.ok(t instanceof TvphoneError && !(t instanceof StoreUnavailableError));
    assert.deepEqual([t.name, t.code, t.message], ['TvphoneError', 'ERR_USER_EXISTS', 'user 1001 already exists']);
  });

  it('keeps built-in classes, their fields and the stack of where they were thrown; anything else thrown becomes an Error', function () {
    const thrown = new RangeError('bad limit -1');
    const r = across(thrown);
    assert.ok(r instanceof RangeError);
    assert.equal(r.message, 'bad limit -1');
    assert.equal(r.stack, thrown.stack);
    assert.ok(across(new TypeError('message body is not binary')) instanceof TypeError);
    const odd = across('a string');
    assert.deepEqual([odd instanceof Error, odd.message], [true, 'a string']);
  });

  it("lists the Store methods from SqlStore's prototype, close aside", function () {
    assert.ok(STORE_CALLS.length >= 40, `${STORE_CALLS.length} methods`);
    for (const m of ['schemaVersion', 'serverSecret', 'saveBindings', 'storeMessage', 'voicemailAudio', 'pushRegistrations']) assert.ok(STORE_CALLS.includes(m as never), m);
    for (const m of ['close', 'constructor', 'read', 'write']) assert.ok(!STORE_CALLS.includes(m as never), m);
  });
});
