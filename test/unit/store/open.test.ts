import assert from 'node:assert/strict';
import { TvphoneError } from '../../../src/errors.ts';
import { mssqlConfig } from '../../../src/store/mssql/mssql-store.ts';
import { openStore, redactUrl } from '../../../src/store/open.ts';

describe('store URLs', function () {
  it('redacts the password of a URL', function () {
    assert.equal(redactUrl('postgres://tv:s3cret@127.0.0.1:5432/tvphone'), 'postgres://tv:***@127.0.0.1:5432/tvphone');
    assert.equal(redactUrl('mssql://sa:p%40ss@127.0.0.1:1433/tv'), 'mssql://sa:***@127.0.0.1:1433/tv');
    assert.equal(redactUrl('postgres://127.0.0.1/tv'), 'postgres://127.0.0.1/tv');
    assert.equal(redactUrl('sqlite:./data/tvphone.db'), 'sqlite:./data/tvphone.db');
    assert.equal(redactUrl('postgres://u:pw@[bad/x'), 'postgres://u:***@[bad/x');
  });

  it('refuses an unknown scheme, naming the URL without its password', async function () {
    await assert.rejects(openStore('oracle://scott:tiger@127.0.0.1/db'), (e: unknown) => {
      assert.ok(e instanceof TvphoneError);
      assert.equal(e.code, 'ERR_STORE_URL');
      assert.match(e.message, /oracle:\/\/scott:\*\*\*@127\.0\.0\.1\/db/);
      assert.doesNotMatch(e.message, /tiger/);
      return true;
    });
  });

  it('refuses "sqlite:" without a path', async function () {
    await assert.rejects(openStore('sqlite:'), /names no file/);
  });

  it('reads a SQL Server URL into a pooled configuration', function () {
    const c = mssqlConfig('mssql://sa:p%40ss@127.0.0.1:1444/tvphone?encrypt=true', { poolSize: 4 });
    assert.equal(c.server, '127.0.0.1');
    assert.equal(c.port, 1444);
    assert.equal(c.database, 'tvphone');
    assert.equal(c.user, 'sa');
    assert.equal(c.password, 'p@ss');
    assert.equal(c.pool?.max, 4);
    assert.equal(c.options?.encrypt, true);
    assert.equal(c.options?.trustServerCertificate, true);
  });

  it('takes the pool size of a SQL Server URL (?poolSize=N), and refuses a bad one', function () {
    assert.equal(mssqlConfig('mssql://sa:p@127.0.0.1/tvphone', {}).pool?.max, 10);
    assert.equal(mssqlConfig('mssql://sa:p@127.0.0.1/tvphone?poolSize=3', {}).pool?.max, 3);
    for (const bad of ['0', 'x', '2.5', '']) {
      assert.throws(() => mssqlConfig(`mssql://sa:hunter2@127.0.0.1/tvphone?poolSize=${bad}`, {}), (e: unknown) =>
        e instanceof TvphoneError && /poolSize/.test(e.message) && !/hunter2/.test(e.message));
    }
  });

  it('refuses a SQL Server URL without a database, without showing the password', function () {
    assert.throws(() => mssqlConfig('mssql://sa:hunter2@127.0.0.1:1433', {}), (e: unknown) =>
      e instanceof TvphoneError && /database/.test(e.message) && !/hunter2/.test(e.message));
  });
});
