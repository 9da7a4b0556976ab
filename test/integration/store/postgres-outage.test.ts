// PostgreSQL goes away and comes back (outage.ts), stopped and started with TVPHONE_TEST_PG_CTL (a printf template for
// pg_ctl, see .ci/postgres.sh); pg_ctl -m immediate cuts connections mid-query.
import { createTestDatabase } from '../../helpers/pg-database.ts';
import { describeStoreOutage } from './outage.ts';

describeStoreOutage({
  name: 'PostgreSQL', adminUrl: process.env.TVPHONE_TEST_PG_URL, ctl: process.env.TVPHONE_TEST_PG_CTL,
  env: 'TVPHONE_TEST_PG_URL / TVPHONE_TEST_PG_CTL', createDatabase: createTestDatabase, immediateStop: '-m immediate stop',
});
