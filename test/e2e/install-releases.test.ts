import assert from 'node:assert/strict';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import { meshctl, skipUnlessLabUsable, waitForFullMesh } from './helpers/gateways.js';

/**
 * The install path on every release (issue: OpenVPN absent → installed by meshctl): gateways of bullseye, trixie
 * and sid whose image has no OpenVPN, each with the lab's local package folder of its own release as apt's only
 * source. One `meshctl apply` installs the release's own OpenVPN (2.5, 2.6, 2.7) and brings the mesh up. (bookworm's
 * install path is proven by the add-lan case of releases.test.ts.)
 */

const spec: LabSpec = {
  name: 'inst',
  mesh: 'installs',
  gateways: [
    { name: 'bull', id: 1, subnets: ['10.161.0.0/24'], release: 'bullseye', openvpn: false },
    { name: 'trix', id: 2, subnets: ['10.162.0.0/24'], release: 'trixie', openvpn: false },
    { name: 'sid', id: 3, subnets: ['10.163.0.0/24'], release: 'sid', openvpn: false },
  ],
};
const VERSION: Record<string, RegExp> = {
  bull: /^OpenVPN 2\.5\.\d+ /,
  trix: /^OpenVPN 2\.6\.\d+ /,
  sid: /^OpenVPN 2\.7\.\d+ /,
};

describe('OpenVPN installed by meshctl on every release (root + systemd-nspawn)', function () {
  this.timeout(300_000);
  let lab: Lab | undefined;

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/install-releases.test.js');
    await reapOrphans();
    lab = await Lab.up(spec);
  });

  after(async () => {
    await lab?.down();
  });

  it('finds no OpenVPN, installs each release’s own from its package folder, and the mesh comes up', async () => {
    for (const gw of spec.gateways) {
      const before = await lab!.exec(gw.name, ['sh', '-c', 'command -v openvpn || echo absent']);
      assert.equal(before.stdout.trim(), 'absent', `${gw.name} starts without OpenVPN`);
    }
    const diff = await meshctl(lab!, ['diff', '--accept-new'], 2);
    for (const gw of spec.gateways) {
      assert.match(
        diff.stdout,
        new RegExp(`^${gw.name} \\(198\\.18\\.0\\.\\d+\\)  debian .*OpenVPN not installed`, 'm'),
      );
      assert.match(diff.stdout, /install-package openvpn/);
    }
    await meshctl(lab!, ['apply'], 0);
    for (const gw of spec.gateways) {
      const version = await lab!.exec(gw.name, ['sh', '-c', 'openvpn --version | head -n 1']);
      assert.match(version.stdout, VERSION[gw.name]!, `${gw.name}: ${version.stdout}`);
      const source = await lab!.exec(gw.name, [
        'sh',
        '-c',
        "apt-cache policy openvpn | grep -c 'file:/srv/repo'",
      ]);
      assert.notEqual(source.stdout.trim(), '0', `${gw.name}: installed from the local package folder`);
    }
    assert.deepEqual(await waitForFullMesh(lab!, 60_000), []);
    await meshctl(lab!, ['diff'], 0);
  });
});
