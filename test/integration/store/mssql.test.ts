import { openStore } from '../../../src/store/open.ts';
import { describeStoreContract } from './contract.ts';

const url = process.env.MSSQL_URL;

// The database named in MSSQL_URL must exist; the contract keeps its tests apart by unique user names.
(url ? describe : describe.skip)(
  url ? 'SQL Server store' : 'SQL Server: skipped, MSSQL_URL not set — SQL Server cannot run on these machines',
  function () {
    if (url) describeStoreContract('SQL Server', () => openStore(url));
    else it('runs the store contract against MSSQL_URL');
  },
);
