// SQL Server goes away and comes back (outage.ts), stopped and started with TVPHONE_TEST_MSSQL_CTL (a printf template,
// see .ci/babelfish.sh: Babelfish in CI).
import { createMssqlTestDatabase } from '../../helpers/mssql-database.ts';
import { describeStoreOutage } from './outage.ts';

describeStoreOutage({
  name: 'SQL Server', adminUrl: process.env.MSSQL_URL, ctl: process.env.TVPHONE_TEST_MSSQL_CTL,
  env: 'MSSQL_URL / TVPHONE_TEST_MSSQL_CTL', createDatabase: createMssqlTestDatabase,
});
