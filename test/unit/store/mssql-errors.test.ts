// Which driver errors mean "SQL Server cannot be reached" (503 and the outage logged once) rather than a fault in
// the statement: the errors below are the ones tedious/mssql gave when Babelfish was stopped under a pool.
import assert from 'node:assert/strict';
import { isConnectionError } from '../../../src/store/mssql/mssql-store.ts';

/** A driver error as mssql hands it on: tedious's code kept on mssql's error class. */
function driverError(name: string, message: string, code: string): Error {
  return Object.assign(new Error(message), { name, code });
}

describe('store/mssql: connection errors', function () {
  it('takes socket, login, closed and not-logged-in connections for an outage', function () {
    assert.ok(isConnectionError(driverError('ConnectionError', 'Failed to connect to 127.0.0.1:1433', 'ESOCKET')));
    assert.ok(isConnectionError(driverError('RequestError', 'socket hang up', 'ECONNRESET')));
    assert.ok(isConnectionError(driverError('RequestError', 'Connection closed before request completed.', 'ECLOSE')));
    // COMMIT on a pooled connection whose socket the stopping server closed
    assert.ok(isConnectionError(driverError('TransactionError', 'Requests can only be made in the LoggedIn state, not the Final state', 'EINVALIDSTATE')));
  });

  it('does not take a statement the server refused for one', function () {
    assert.equal(isConnectionError(driverError('RequestError', 'Violation of PRIMARY KEY constraint', 'EREQUEST')), false);
    assert.equal(isConnectionError(driverError('RequestError', 'Canceled.', 'ECANCEL')), false);
    assert.equal(isConnectionError(new Error('anything else')), false);
  });
});
