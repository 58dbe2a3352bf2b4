// The test user most suites sign in: one identity, so a change to the Identity shape is made once.
import type { Identity } from '../../src/core/identity.js';

const ALICE: Identity = {
  subject: 'corp:alice-sub',
  providerId: 'corp',
  userId: 'user-1',
  username: 'alice',
  email: 'alice@example.com',
  name: 'Alice',
  groups: ['admins', 'users'],
  roles: [],
};

/** Alice of provider `corp`, with whatever a test changes. */
export function aliceIdentity(changes: Partial<Identity> = {}): Identity {
  return { ...ALICE, ...changes };
}
