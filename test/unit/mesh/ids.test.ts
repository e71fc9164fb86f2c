import assert from 'node:assert/strict';
import { nextLanId, requestedIdProblem } from '../../../src/mesh/ids.js';

const ids = {
  lans: [
    { name: 'hq', id: 1 },
    { name: 'branch', id: 2 },
    { name: 'cloud', id: 4 },
  ],
  retired: [3, 6],
};

describe('add-lan: next LAN id', () => {
  it('is one more than every current and every retired id', () => {
    assert.equal(nextLanId(ids), 7, 'retired 6 is higher than every current id');
    assert.equal(nextLanId({ lans: ids.lans, retired: [] }), 5);
    assert.equal(nextLanId({ lans: [{ name: 'a', id: 9 }], retired: [3] }), 10);
  });

  it('starts at 1 in an empty mesh and never fills a gap left by a removed LAN', () => {
    assert.equal(nextLanId({ lans: [], retired: [] }), 1);
    assert.equal(nextLanId({ lans: [{ name: 'a', id: 1 }], retired: [2] }), 3);
  });

  it('accepts an --id never used, even below the highest', () => {
    assert.equal(requestedIdProblem(5, ids), undefined);
    assert.equal(requestedIdProblem(100, ids), undefined);
  });

  it('refuses an --id in use, retired or not a positive integer, naming it and the id to use instead', () => {
    assert.match(requestedIdProblem(2, ids)!, /--id 2 is already the id of LAN "branch".*take 7/);
    assert.match(requestedIdProblem(3, ids)!, /--id 3 is in retired_ids of mesh\.yml.*take 7/);
    assert.match(requestedIdProblem(0, ids)!, /--id 0 is not a positive integer/);
    assert.match(requestedIdProblem(2.5, ids)!, /--id 2\.5 is not a positive integer/);
    assert.match(requestedIdProblem(Number.NaN, ids)!, /--id NaN is not a positive integer/);
  });
});
