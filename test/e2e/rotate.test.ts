import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadInventoryOrThrow } from '../../src/inventory/load.js';
import { certSerial, parseCertificate } from '../../src/pki/certificates.js';
import { crlSerials, parseCrl } from '../../src/pki/crl.js';
import { rel } from '../../src/pki/layout.js';
import { Lab, type LabSpec, reapOrphans } from '../lab/lab.js';
import {
  assertNoKeyMaterial,
  changedPids,
  meshctl,
  parseJson,
  skipUnlessLabUsable,
  statusUntil,
  transcript,
  tunnelPids,
  tunnelUnit,
  unansweredPings,
  waitForFullMesh,
} from './helpers/gateways.js';
import { assertMaterialMatches, impostor, KEY_DIR, rotateMeasured } from './helpers/rotation.js';

/**
 * `meshctl rotate` on real gateways (SPEC §10): a static full mesh of five LANs. `rotate --pair ra,rb`, then
 * `rotate --gateway rb`. After each: the material on every gateway is pki_dir's (fingerprints), status exits 0,
 * the whole LAN matrix pings, only the tunnels that had to restart did; the old material is refused by the peer
 * (a throw-away OpenVPN in rb's container presenting the old tls-crypt key, or the old certificate, against ra);
 * and the outage of the rotated pair is measured with a 50 ms ping between its two LANs.
 */

const SPEC: LabSpec = {
  name: 'rot',
  portBase: 13000,
  gateways: [
    { name: 'ra', id: 1, subnets: ['10.71.0.0/24'] },
    { name: 'rb', id: 2, subnets: ['10.72.0.0/24'] },
    { name: 'rc', id: 3, subnets: ['10.73.0.0/24'] },
    { name: 'rd', id: 4, subnets: ['10.74.0.0/24'] },
    { name: 're', id: 5, subnets: ['10.75.0.0/24'] },
  ],
};
const NAMES = SPEC.gateways.map((g) => g.name);
/** Pair ra <-> rb: ids 1 and 2, index 1 (UDP 13001). */
const PAIR = 1;

describe('e2e: meshctl rotate on a 5-LAN lab (root + systemd-nspawn)', function () {
  this.timeout(600_000);
  let lab: Lab | undefined;
  let pkiDir = '';
  const pki = (relative: string) => readFileSync(join(pkiDir, relative), 'utf8');

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/rotate.test.js');
    await reapOrphans();
    lab = await Lab.up(SPEC);
    await meshctl(lab, ['apply', '--accept-new'], 0);
    pkiDir = loadInventoryOrThrow(lab.inventoryDir).inventory.mesh.pkiDir;
    assert.deepEqual(await waitForFullMesh(lab, 30_000), []);
  });

  after(async () => {
    await lab?.down();
  });

  it('--plan writes nothing and names the two units that restart', async () => {
    const before = pki(rel.tlsCrypt(PAIR));
    const run = await meshctl(lab!, ['rotate', '--pair', 'ra,rb', '--plan'], 0);
    assert.match(run.stdout, /ra: openvpn-server@mesh-rb\.service/);
    assert.match(run.stdout, /rb: openvpn-server@mesh-ra\.service/);
    assert.equal(pki(rel.tlsCrypt(PAIR)), before);
  });

  it('--pair ra,rb: a new tls-crypt key at both ends, only that tunnel restarts, the old key gets no TLS at all', async () => {
    const oldKey = pki(rel.tlsCrypt(PAIR));
    const pidsBefore = await tunnelPids(lab!);
    const { run } = await rotateMeasured(lab!, ['--pair', 'ra,rb'], 20, [['ra', 'rb']]);
    assertNoKeyMaterial(run.stdout + run.stderr, 'rotate --pair');
    assert.equal(parseJson(run).outcome, 'rotated', transcript(run));
    assert.notEqual(pki(rel.tlsCrypt(PAIR)), oldKey);
    await assertMaterialMatches(lab!, pkiDir);
    assert.deepEqual(changedPids(pidsBefore, await tunnelPids(lab!)), [
      `ra/${tunnelUnit('rb')}`,
      `rb/${tunnelUnit('ra')}`,
    ]);
    await statusUntil(lab!, 0, 30_000);
    assert.deepEqual(await unansweredPings(lab!), []);

    // rb presenting the OLD pair key: ra drops its packets before TLS
    const { log, peerLog } = await impostor(lab!, { self: 'rb', peer: 'ra' }, { tlsCrypt: oldKey }, 12);
    assert.doesNotMatch(log, /Initialization Sequence Completed/, log);
    assert.match(peerLog, /tls-crypt unwrapping failed/, `ra's journal:\n${peerLog}`);
    console.log(`      ra refused the old pair key: ${/.*tls-crypt unwrapping failed.*/.exec(peerLog)![0]}`);
    await statusUntil(lab!, 0, 60_000);
  });

  it("--gateway rb: a new key and certificate on rb, the old serial revoked everywhere, only rb's tunnels restart; the old certificate is refused", async () => {
    const oldCert = pki(rel.gatewayCert('rb'));
    const oldKey = pki(rel.gatewayKey('rb'));
    const oldSerial = certSerial(parseCertificate(oldCert)!);
    const pidsBefore = await tunnelPids(lab!);
    const { run } = await rotateMeasured(lab!, ['--gateway', 'rb'], 40, [['ra', 'rb']]);
    assertNoKeyMaterial(run.stdout + run.stderr, 'rotate --gateway');
    const json = parseJson(run);
    assert.equal(json.outcome, 'rotated', transcript(run));
    const newCert = pki(rel.gatewayCert('rb'));
    assert.notEqual(certSerial(parseCertificate(newCert)!), oldSerial);
    assert.deepEqual(crlSerials(parseCrl(pki(rel.crl))!), [oldSerial]);
    await assertMaterialMatches(lab!, pkiDir);
    const restarted = changedPids(pidsBefore, await tunnelPids(lab!));
    assert.deepEqual(
      restarted,
      [
        ...NAMES.filter((n) => n !== 'rb').map((n) => `${n}/${tunnelUnit('rb')}`),
        ...NAMES.filter((n) => n !== 'rb').map((n) => `rb/${tunnelUnit(n)}`),
      ].sort(),
    );
    await statusUntil(lab!, 0, 30_000);
    assert.deepEqual(await unansweredPings(lab!), []);

    // rb presenting its OLD (now revoked) certificate and key: ra refuses it
    const { log, peerLog } = await impostor(
      lab!,
      { self: 'rb', peer: 'ra' },
      { cert: oldCert, key: oldKey },
      15,
    );
    const crlText = await lab!.exec('ra', ['openssl', 'crl', '-in', `${KEY_DIR}/crl.pem`, '-noout', '-text']);
    const stat = await lab!.exec('ra', ['stat', `${KEY_DIR}/crl.pem`]);
    assert.doesNotMatch(
      log,
      /Initialization Sequence Completed/,
      `impostor:\n${log}\nra's journal:\n${peerLog}\nra's CRL:\n${crlText.stdout}${crlText.stderr}\n${stat.stdout}\nold serial ${oldSerial}`,
    );
    assert.match(peerLog, /VERIFY ERROR.*(revoked|CRL)|certificate revoked/i, `ra's journal:\n${peerLog}`);
    console.log(
      `      ra refused the old certificate: ${/.*(VERIFY ERROR|certificate revoked).*/i.exec(peerLog)![0]}`,
    );
    await statusUntil(lab!, 0, 60_000);
    assert.deepEqual(await unansweredPings(lab!), []);
  });
});
