import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadInventoryOrThrow } from '../../src/inventory/load.js';
import { LOCK_FILE } from '../../src/lock.js';
import { certSerial, commonName, parseCertificate, pemBlocks } from '../../src/pki/certificates.js';
import { rel } from '../../src/pki/layout.js';
import { readRotation } from '../../src/pki/rotation-record.js';
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
  unansweredPings,
  waitForFullMesh,
} from './helpers/gateways.js';
import { assertMaterialMatches, impostor, KEY_DIR, rotateMeasured } from './helpers/rotation.js';
import { LiveRun } from './interrupt-support.js';

/**
 * `meshctl rotate --ca` on real gateways (SPEC §10), a static full mesh of five LANs: a whole rotation while every
 * LAN pair pings every 50 ms (the longest outage of any pair is the figure); afterwards every gateway holds the new
 * CA alone and certificates it signed (fingerprints), the old CA's certificate is refused, the matrix pings. Then a
 * second rotation killed (SIGKILL) in phase 2: every gateway still trusts both CAs, and the same command resumes
 * and finishes.
 */

const SPEC: LabSpec = {
  name: 'rca',
  portBase: 13500,
  gateways: [
    { name: 'ca1', id: 1, subnets: ['10.91.0.0/24'] },
    { name: 'ca2', id: 2, subnets: ['10.92.0.0/24'] },
    { name: 'ca3', id: 3, subnets: ['10.93.0.0/24'] },
    { name: 'ca4', id: 4, subnets: ['10.94.0.0/24'] },
    { name: 'ca5', id: 5, subnets: ['10.95.0.0/24'] },
  ],
};
const NAMES = SPEC.gateways.map((g) => g.name);
/** Every unordered pair of LANs, as [from, to]. */
const PAIRS = NAMES.flatMap((a, i) => NAMES.slice(i + 1).map((b) => [a, b] as [string, string]));

describe('e2e: meshctl rotate --ca on a 5-LAN lab (root + systemd-nspawn)', function () {
  this.timeout(900_000);
  let lab: Lab | undefined;
  let pkiDir = '';
  const pki = (relative: string) => readFileSync(join(pkiDir, relative), 'utf8');
  const serialOf = (pem: string) => certSerial(parseCertificate(pem)!);

  /** The serials of the CAs a gateway's ca.crt holds. */
  async function trustedBy(gateway: string): Promise<string[]> {
    const ca = await lab!.exec(gateway, ['cat', `${KEY_DIR}/ca.crt`]);
    assert.equal(ca.code, 0, ca.stderr);
    return pemBlocks(ca.stdout).map(serialOf);
  }

  /** pki_dir's CA alone on every gateway, every certificate signed by it (openssl on the gateway), every tunnel up. */
  async function assertNewCaEverywhere(): Promise<void> {
    await assertMaterialMatches(lab!, pkiDir);
    const ca = serialOf(pki(rel.caCert));
    for (const name of NAMES) {
      assert.deepEqual(await trustedBy(name), [ca], `${name} trusts the new CA alone`);
      const verify = await lab!.exec(name, [
        'openssl',
        'verify',
        '-CAfile',
        `${KEY_DIR}/ca.crt`,
        '-crl_check',
        '-CRLfile',
        `${KEY_DIR}/crl.pem`,
        `${KEY_DIR}/${name}.crt`,
      ]);
      assert.equal(verify.code, 0, `${name}: ${verify.stdout}${verify.stderr}`);
    }
    await statusUntil(lab!, 0, 60_000);
    assert.deepEqual(await unansweredPings(lab!), []);
  }

  before(async function () {
    skipUnlessLabUsable(this, 'dist/test/e2e/rotate-ca.test.js');
    await reapOrphans();
    lab = await Lab.up(SPEC);
    await meshctl(lab, ['apply', '--accept-new'], 0);
    pkiDir = loadInventoryOrThrow(lab.inventoryDir).inventory.mesh.pkiDir;
    assert.deepEqual(await waitForFullMesh(lab, 30_000), []);
  });

  after(async () => {
    await lab?.down();
  });

  it('--plan names the three phases, every gateway in turn, and writes nothing', async () => {
    const before = pki(rel.caCert);
    const run = await meshctl(lab!, ['rotate', '--ca', '--plan'], 0);
    assert.match(
      run.stdout,
      /phase 1: trust both CAs[\s\S]*phase 2: reissue[\s\S]*phase 3: retire the old CA/,
    );
    assert.match(run.stdout, /ca3: .*restarts its 4 tunnel\(s\)/);
    assert.equal(pki(rel.caCert), before);
    assert.equal(readRotation(pkiDir), undefined);
  });

  it('a whole rotation: the new CA everywhere, every tunnel restarted, the old CA refused; the longest outage of any LAN pair measured', async () => {
    const oldCa = pki(rel.caCert);
    const oldCert = pki(rel.gatewayCert('ca2'));
    const oldKey = pki(rel.gatewayKey('ca2'));
    const pidsBefore = await tunnelPids(lab!);
    const { run, gap, lines } = await rotateMeasured(lab!, ['--ca'], 50, PAIRS);
    for (const line of lines) console.log(`        ${line}`);
    assertNoKeyMaterial(run.stdout + run.stderr, 'rotate --ca');
    const json = parseJson(run);
    assert.equal(json.outcome, 'rotated', transcript(run));
    const ca = parseCertificate(pki(rel.caCert))!;
    assert.notEqual(certSerial(ca), serialOf(oldCa));
    assert.equal(json.newCa, certSerial(ca));
    assert.match(commonName(ca) ?? '', / meshctl CA 2$/);
    assert.ok(existsSync(join(pkiDir, rel.retiredCaCert(serialOf(oldCa)))));
    assert.equal(readRotation(pkiDir), undefined);
    await assertNewCaEverywhere();
    // every tunnel restarted (each end with its own gateway), none was left stopped
    assert.equal(changedPids(pidsBefore, await tunnelPids(lab!)).length, pidsBefore.size);
    assert.ok(gap < 10, `the longest outage of a LAN pair was ${gap.toFixed(2)} s`);

    // ca2 presenting its certificate of the retired CA (with its key, which the reissue kept): ca1 refuses it
    const { log, peerLog } = await impostor(
      lab!,
      { self: 'ca2', peer: 'ca1' },
      { cert: oldCert, key: oldKey },
      12,
    );
    assert.doesNotMatch(log, /Initialization Sequence Completed/, log);
    assert.match(peerLog, /VERIFY ERROR: depth=0, error=unable to get local issuer certificate/, peerLog);
    console.log(`      ca1 refused the old CA's certificate: ${/.*VERIFY ERROR.*/.exec(peerLog)![0]}`);
    await statusUntil(lab!, 0, 60_000);
  });

  it('killed (SIGKILL) in phase 2: every gateway still trusts both CAs; the same command resumes and finishes', async () => {
    const live = new LiveRun(lab!, ['rotate', '--ca', '--no-color']);
    // the second gateway of phase 2 is being converged: its certificate is reissued, its tunnels restarting
    await live.waitForLine(/pki: ca2's certificate reissued by the new CA/, 180_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    live.kill('SIGKILL');
    const exit = await live.exited;
    assert.equal(exit.signal, 'SIGKILL', live.output);
    const record = readRotation(pkiDir);
    assert.ok(record?.kind === 'ca' && record.phase === 'reissue', JSON.stringify(record));
    assert.deepEqual(record.done, ['ca1']);
    // no gateway trusts neither CA: each holds both, whatever certificate its peers present
    for (const name of NAMES) {
      assert.deepEqual(
        (await trustedBy(name)).sort(),
        [record.oldCa, record.newCa].sort(),
        `${name} trusts both CAs`,
      );
    }
    // the kill left the lock: meshctl names it and how to clear it
    const locked = await meshctl(lab!, ['rotate', '--ca'], 1);
    assert.match(locked.stderr, /stale lock: .*no longer running/);
    rmSync(join(lab!.inventoryDir, LOCK_FILE));
    const resumed = await meshctl(lab!, ['rotate', '--ca', '--no-color'], 0);
    assert.match(
      resumed.stdout + resumed.stderr,
      /resuming, phase 2 of 3 \(reissue\), 1 of 5 gateways; done: ca1/,
    );
    assert.equal(readRotation(pkiDir), undefined);
    assert.match(commonName(parseCertificate(pki(rel.caCert))!) ?? '', / meshctl CA 3$/);
    await assertNewCaEverywhere();
  });

  it('with routing: bgp (a second path through every other LAN): each gateway restarts its tunnels one at a time and no LAN pair loses traffic for more than 5 s', async () => {
    const meshFile = join(lab!.inventoryDir, 'mesh.yml');
    const staticMesh = readFileSync(meshFile, 'utf8');
    writeFileSync(
      meshFile,
      `${staticMesh}routing: bgp\nbgp: { asn_base: 4200000000, bfd: { interval_ms: 300, multiplier: 3 } }\n`,
    );
    await meshctl(lab!, ['apply'], 0);
    const status = await statusUntil(lab!, 0, 60_000);
    assert.ok(
      status.tunnels.every((t) => t.ends.every((e) => e.bgp?.state === 'Established')),
      'every BGP session Established before the rotation',
    );
    const { run, gap, lines, took } = await rotateMeasured(lab!, ['--ca'], 400, PAIRS);
    for (const line of lines) console.log(`        ${line}`);
    assert.equal(parseJson(run).outcome, 'rotated', transcript(run));
    assert.ok(gap <= 5, `a LAN pair lost traffic for ${gap.toFixed(2)} s (the bar: 5 s)`);
    // a tunnel whose session stayed down after its restart was restarted once more (FRR stuck on next-hop
    // tracking): how often, for the record
    const again = (
      parseJson(run).gateways as { lan: string; restartedForBgp?: { peer: string; why: string }[] }[]
    ).flatMap((g) => (g.restartedForBgp ?? []).map((r) => `${g.lan} → ${r.peer}: ${r.why}`));
    console.log(
      `      measured with bgp: rotate --ca took ${took.toFixed(1)} s, longest LAN-pair gap ${gap.toFixed(2)} s; ` +
        `tunnels restarted a second time: ${again.length}${again.length > 0 ? ` (${again.join('; ')})` : ''}`,
    );
    await assertNewCaEverywhere();
  });
});
