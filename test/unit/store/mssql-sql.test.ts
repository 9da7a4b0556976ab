// Every T-SQL statement tvphone sends to SQL Server, checked by a real T-SQL parser: the migrations in
// sql/mssql/ and every query string of the backend (src/store/mssql/queries.ts).

import assert from 'node:assert/strict';
import pkg from 'node-sql-parser';
import { loadMigrations, splitStatements } from '../../../src/store/migrations.ts';
import { MSSQL_MIGRATION_QUERIES, MSSQL_QUERIES } from '../../../src/store/mssql/queries.ts';
import { QUERIES } from '../../../src/store/queries.ts';

const { Parser } = pkg;
const parser = new Parser();

function parseTsql(sql: string): void {
  parser.astify(sql, { database: 'transactsql' });
}

describe('SQL Server T-SQL (parsed with node-sql-parser, dialect transactsql)', function () {
  for (const m of loadMigrations('mssql')) {
    splitStatements(m.sql).forEach((stmt, i) => {
      it(`parses statement ${i + 1} of sql/mssql/${m.name}: ${stmt.split('\n')[0].slice(0, 60)}`, function () {
        parseTsql(stmt);
      });
    });
  }

  for (const [name, text] of Object.entries(MSSQL_QUERIES)) {
    it(`parses query ${name}`, function () {
      parseTsql(text);
    });
  }

  for (const [name, text] of Object.entries(MSSQL_MIGRATION_QUERIES)) {
    it(`parses migration query ${name}`, function () {
      parseTsql(text);
    });
  }

  it('has a T-SQL text for every shared query, with @pN placeholders only', function () {
    assert.deepEqual(Object.keys(MSSQL_QUERIES).sort(), Object.keys(QUERIES).sort());
    for (const text of Object.values(MSSQL_QUERIES)) {
      assert.doesNotMatch(text, /\?\d|\$\d|\bLIMIT\b|\bRETURNING\b/);
    }
  });

  it('reads the newest calls (TOP of id DESC in a derived table) and hands them back oldest first', function () {
    for (const [name, top] of [['selectCalls', '@p4'], ['selectMissedCalls', '@p3']] as const) {
      const text = MSSQL_QUERIES[name];
      assert.match(text, new RegExp(`^SELECT \\* FROM \\(SELECT TOP\\(${top}\\) .* ORDER BY id DESC\\) AS newest ORDER BY id$`));
      const ast = parser.astify(text, { database: 'transactsql' });
      const select = (Array.isArray(ast) ? ast[0] : ast) as unknown as { from: Array<{ expr?: { ast?: { orderby?: Array<{ type: string }> } } }> };
      assert.equal(select.from[0].expr?.ast?.orderby?.[0]?.type, 'DESC');
    }
  });

  it('serialises a user\'s writers with a row lock an UPDATE takes, not with table hints (Babelfish ignores hints)', function () {
    assert.match(MSSQL_QUERIES.lockPresence, /^UPDATE user_property SET .* WHERE User_id = @p1; SELECT .* FROM user_property WHERE User_id = @p1$/);
    for (const [name, text] of Object.entries({ ...MSSQL_QUERIES, ...MSSQL_MIGRATION_QUERIES })) {
      assert.doesNotMatch(text, /\bWITH\s*\(\s*(UPDLOCK|HOLDLOCK|ROWLOCK|XLOCK|TABLOCKX?|SERIALIZABLE|NOLOCK|READPAST)\b/i, name);
      assert.doesNotMatch(text, /\bMERGE\b/i, `${name}: Babelfish has no MERGE`);
    }
  });

  it('the parser does reject what is not T-SQL', function () {
    assert.throws(() => parseTsql('SELECT FROM WHERE'));
  });
});
