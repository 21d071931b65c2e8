import { migrate } from '../../src/adapters/store/migrations.js';
import type { SqlClient } from '../../src/adapters/store/sql-client.js';
import { SqlMessageStore } from '../../src/adapters/store/sql-message-store.js';
import { deliveryStoreContract } from './delivery-store-contract.js';
import { notificationStoreContract } from './notification-store-contract.js';
import { storeContract, type OpenedStore } from './store-contract.js';

/**
 * The MessageStore, DeliveryStore, NotificationStore and PracticeStore
 * contracts over one in-memory PGlite from `openClient` (creating one takes
 * seconds), emptied before each test; a test that closes its store makes the
 * next one open anew. Call inside a `describe`.
 */
export function pgliteContracts(name: string, openClient: () => Promise<SqlClient>): void {
  let shared: SqlClient | undefined;
  after(() => shared?.close());

  const open = async (): Promise<OpenedStore> => {
    if (shared === undefined) {
      shared = await openClient();
      await migrate(shared);
    }
    const client = shared;
    await client.query('TRUNCATE messages, message_history, practice_sequences, outbox, ack_log, notifications, practice_alarms RESTART IDENTITY');
    const store = new SqlMessageStore(client, () => {
      shared = undefined;
    });
    return { store, sql: client, cleanup: () => Promise.resolve() };
  };
  storeContract(name, open);
  deliveryStoreContract(name, open);
  notificationStoreContract(name, open);
}
