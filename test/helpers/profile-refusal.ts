// The ProfileError a profile check throws (the tests then read its file, field and reason); fails when it is accepted.
import assert from 'node:assert/strict';
import { ProfileError } from '../../src/config/profile.ts';

export function refusal(fn: () => unknown): ProfileError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ProfileError, `expected ProfileError, got ${String(err)}`);
    return err;
  }
  assert.fail('the profile was accepted');
}
