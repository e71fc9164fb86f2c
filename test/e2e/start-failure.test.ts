import assert from 'node:assert/strict';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import {
  changedPids,
  deadTunnels,
  meshctl,
  parseJson,
  skipUnlessLabUsable,
  transcript,
  tunnelPids,
  waitForFullMesh,
} from './helpers/gateways.js';
import { editMesh } from './interrupt-support.js';

/**
 * SPEC §5 apply: "if a changed tunnel does not come up, restore its previous files". Here OpenVPN refuses to
 * START the new config at all (a directive this OpenVPN does not know — what an option of a newer OpenVPN looks
 * like to an older gateway), so `systemctl start` fails. Every changed tunnel must be rolled back at both ends and
 * keep working; the manifest must record what is really there, so that once the config is fixed the next apply
 * has nothing to restart.
 */

interface ApplyJson {
  ok: boolean;
  gateways: { lan: string; status: string; tunnels: { peer: string; up: boolean; note?: string }[] }[];
}

describe('a tunnel OpenVPN refuses to start is rolled back at both ends (lab)', function () {
  this.timeout(300_000);
  const spec: LabSpec = {
    name: 'sf',
    gateways: [
      { name: 'red', id: 1, subnets: ['10.61.0.0/24'] },
      { name: 'green', id: 2, subnets: ['10.62.0.0/25'] },
      { name: 'blue', id: 3, subnets: ['10.63.0.0/16'] },
    ],
  };
  let lab: Lab | undefined;
  let converged: Map<string, number>;

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/start-failure.test.js');
    await reapOrphans();
    lab = await Lab.up(spec);
    await meshctl(lab, ['apply', '--accept-new'], 0);
    assert.deepEqual(await waitForFullMesh(lab, 60_000), []);
    converged = await tunnelPids(lab);
  });

  after(async () => {
    await lab?.down();
  });

  it('apply exits 1, restores every tunnel config at both ends, and every LAN still pings', async () => {
    editMesh(lab!, (mesh) => {
      mesh.openvpn = { extra: ['no-such-directive-in-this-openvpn 1'] };
    });
    const result = await meshctl(lab!, ['apply', '--json'], 1);
    const json = parseJson<ApplyJson>(result);
    assert.equal(json.ok, false);
    for (const gw of json.gateways) {
      assert.equal(gw.tunnels.length, 2, `${gw.lan}: both tunnels were verified\n${transcript(result)}`);
      for (const t of gw.tunnels) {
        assert.equal(t.up, false);
        assert.match(
          t.note ?? '',
          /previous config restored/,
          `${gw.lan} → ${t.peer}\n${transcript(result)}`,
        );
      }
    }
    for (const gw of spec.gateways) {
      const confs = await lab!.exec(gw.name, ['sh', '-c', 'cat /etc/openvpn/server/mesh-*.conf']);
      assert.doesNotMatch(
        confs.stdout,
        /no-such-directive/,
        `${gw.name} still has the config OpenVPN refused`,
      );
    }
    assert.deepEqual(await waitForFullMesh(lab!, 60_000), []);
    assert.deepEqual(deadTunnels(await tunnelPids(lab!)), []);
  });

  it('once the config is fixed, apply and diff find nothing to do: no tunnel restarts', async () => {
    editMesh(lab!, (mesh) => {
      mesh.openvpn = { extra: [] };
    });
    const before = await tunnelPids(lab!);
    assert.equal(before.size, converged.size);
    await meshctl(lab!, ['apply'], 0);
    await meshctl(lab!, ['diff'], 0);
    assert.deepEqual(
      changedPids(before, await tunnelPids(lab!)),
      [],
      'the manifest recorded the restored files',
    );
    assert.deepEqual(await waitForFullMesh(lab!, 30_000), []);
  });
});
