import assert from 'node:assert/strict';
import { INSTANCES_PER_GATEWAY, inotifyChanges, WATCHES_PER_GATEWAY } from '../../lab/inotify.js';

describe('lab: the inotify limits raised before gateways boot', () => {
  it('24 gateways at the default 128 instances: raised to a round number above what is in use plus theirs', () => {
    const changes = inotifyChanges(24, { instances: 128, watches: 192_536, instancesInUse: 14 });
    assert.deepEqual(changes, [{ name: 'max_user_instances', from: 128, to: 512 }]);
    assert.ok(changes[0]!.to >= 14 + 24 * INSTANCES_PER_GATEWAY);
  });

  it('limits high enough: nothing changes (and nothing is ever lowered)', () => {
    assert.deepEqual(inotifyChanges(3, { instances: 128, watches: 8192, instancesInUse: 20 }), []);
    assert.deepEqual(inotifyChanges(24, { instances: 4096, watches: 1_000_000, instancesInUse: 300 }), []);
  });

  it('too few watches: raised too', () => {
    const changes = inotifyChanges(12, { instances: 1024, watches: 8192, instancesInUse: 0 });
    assert.deepEqual(changes, [{ name: 'max_user_watches', from: 8192, to: 12 * WATCHES_PER_GATEWAY }]);
  });
});
