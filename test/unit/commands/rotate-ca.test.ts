import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { run as addLan } from '../../../src/commands/add-lan.js';
import { run as apply } from '../../../src/commands/apply.js';
import { run as removeLan } from '../../../src/commands/remove-lan.js';
import { run as rotate } from '../../../src/commands/rotate.js';
import { PkiError, UsageError } from '../../../src/errors.js';
import { gatewayPaths } from '../../../src/gateway/layout.js';
import { loadInventoryOrThrow } from '../../../src/inventory/load.js';
import { certSerial, commonName, parseCertificate, pemBlocks } from '../../../src/pki/certificates.js';
import { rel } from '../../../src/pki/layout.js';
import { readRotation } from '../../../src/pki/rotation.js';
import { captured, engineOptions, type MemoryMesh, memoryMesh } from '../../helpers/memory-mesh.js';
import { fileHashes, treeSnapshot } from '../../helpers/snapshot.js';

/**
 * `meshctl rotate --ca` against memory gateways that check certificates like OpenVPN (a tunnel is up only when
 * each end's loaded CA bundle signed the other end's loaded certificate): the three phases one gateway at a time,
 * what restarts, the state in pki_dir after a stop in each phase, the resume, and the commands refused meanwhile.
 */

const LANS = [
  { name: 'alpha', id: 1 },
  { name: 'beta', id: 2 },
  { name: 'gamma', id: 3 },
];
const NAMES = LANS.map((l) => l.name);
const unit = (peer: string) => `openvpn-server@mesh-${peer}.service`;

describe('rotate --ca against memory gateways', function () {
  this.timeout(60_000);
  let mesh: MemoryMesh;
  let pki: string;
  const connector = () => ({ connector: mesh.network.connector });
  const pkiFile = (relative: string) => readFileSync(path.join(pki, relative), 'utf8');
  /** The CAs (by serial) a gateway's ca.crt holds. */
  const trusted = (gateway: string) =>
    pemBlocks(mesh.network.get(gateway).text(gatewayPaths.caCert) ?? '').map((pem) =>
      certSerial(parseCertificate(pem)!),
    );
  const allUp = () =>
    NAMES.every((g) => NAMES.filter((p) => p !== g).every((p) => mesh.network.get(g).tunnelUp(unit(p))));

  /** `meshctl rotate --ca` again: it resumes where `progress` says and finishes, every tunnel up on the new CA. */
  async function resumesToTheEnd(progress: RegExp): Promise<void> {
    const again = captured();
    assert.equal(
      await rotate(engineOptions(mesh.dir, { ca: true }), again.out, connector()),
      0,
      again.errors(),
    );
    assert.match(again.text(), progress);
    assert.equal(readRotation(pki), undefined);
    for (const name of NAMES)
      assert.deepEqual(trusted(name), trusted('alpha'), `${name} trusts the new CA alone`);
    assert.equal(trusted('alpha').length, 1);
    assert.ok(allUp());
  }

  /** A connector on which `gateway`'s SSH fails from its `nth` connection on (its tunnels keep running). */
  function sshLostAt(gateway: string, nth: number) {
    const original = mesh.network.connector;
    let seen = 0;
    return {
      connector: async (...args: Parameters<typeof original>) => {
        if (args[0].host === `${gateway}.memory` && ++seen === nth) mesh.network.get(gateway).sshDown = true;
        return original(...args);
      },
    };
  }

  beforeEach(async () => {
    mesh = memoryMesh(LANS);
    mesh.network.verifiesCertificates = true;
    pki = loadInventoryOrThrow(mesh.dir).inventory.mesh.pkiDir;
    const c = captured();
    assert.equal(await apply(engineOptions(mesh.dir), c.out, connector()), 0, c.text());
    assert.ok(allUp());
  });
  afterEach(() => mesh.cleanup());

  it('--plan prints the three phases, each gateway in turn with what it restarts, and writes nothing', async () => {
    const before = treeSnapshot(pki);
    const dirBefore = fileHashes(mesh.dir);
    const c = captured(true);
    assert.equal(
      await rotate(engineOptions(mesh.dir, { ca: true, plan: true, json: true }), c.out, connector()),
      0,
    );
    const phases = c.json().phases as { title: string; converge: string[] }[];
    assert.deepEqual(
      phases.map((p) => p.title),
      ['trust both CAs', 'reissue every gateway certificate under the new CA', 'retire the old CA'],
    );
    for (const phase of phases) {
      assert.deepEqual(
        phase.converge.map((line) => line.split(':')[0]),
        NAMES,
        'one gateway at a time, in inventory order',
      );
      assert.ok(phase.converge.every((line) => /restarts its 2 tunnel\(s\)$/.test(line)));
    }
    assert.deepEqual(treeSnapshot(pki), before);
    assert.deepEqual(fileHashes(mesh.dir), dirBefore);
  });

  it('a new CA everywhere: each phase one gateway at a time, every tunnel up after each step, the old CA refused at the end', async () => {
    const oldCa = certSerial(parseCertificate(pkiFile(rel.caCert))!);
    const oldCerts = new Map(NAMES.map((n) => [n, pkiFile(rel.gatewayCert(n))]));
    const logFrom = new Map(NAMES.map((n) => [n, mesh.network.get(n).log.length]));
    // after every converge of the rotation, each tunnel is up (the memory tunnels check trust at both ends)
    const checks: boolean[] = [];
    const original = mesh.network.connector;
    const network = mesh.network;
    const watching = {
      connector: async (...args: Parameters<typeof original>) => {
        checks.push(allUp());
        return original(...args);
      },
    };
    const c = captured(true);
    assert.equal(
      await rotate(engineOptions(mesh.dir, { ca: true, json: true }), c.out, watching),
      0,
      c.errors(),
    );
    checks.push(allUp());
    assert.ok(checks.length >= 9, `one converge per gateway and phase (${checks.length} connections)`);
    assert.ok(checks.every(Boolean), `a tunnel was down between two steps: ${checks.join(',')}`);
    const result = c.json();
    assert.equal(result.outcome, 'rotated');
    // the --json shape (README "Keys"): one entry per converge, one gateway at a time
    assert.deepEqual(Object.keys(result).sort(), [
      'command',
      'gateways',
      'newCa',
      'ok',
      'oldCa',
      'outcome',
      'schema',
      'target',
    ]);
    assert.equal(result.target, '--ca');
    const gateways = result.gateways as {
      lan: string;
      status: string;
      tunnels: { outcome: { kind: string } }[];
    }[];
    assert.deepEqual(
      gateways.map((g) => g.lan),
      [...NAMES, ...NAMES, ...NAMES],
    );
    assert.ok(
      gateways.every((g) => g.status === 'changed' && g.tunnels.every((t) => t.outcome.kind === 'verified')),
    );
    // pki_dir: the new CA (a distinct name), every certificate signed by it, the old CA kept for audit only
    const ca = parseCertificate(pkiFile(rel.caCert))!;
    assert.notEqual(certSerial(ca), oldCa);
    assert.equal(commonName(ca), 'memory meshctl CA 2');
    assert.equal(result.newCa, certSerial(ca));
    assert.equal(readRotation(pki), undefined);
    assert.deepEqual(readdirSync(path.join(pki, rel.rotationDir)), []);
    assert.ok(readdirSync(path.join(pki, 'revoked')).includes(`ca-${oldCa}.crt`));
    for (const name of NAMES) {
      const g = network.get(name);
      assert.deepEqual(trusted(name), [certSerial(ca)], `${name} trusts the new CA alone`);
      assert.equal(g.text(gatewayPaths.caCert), pkiFile(rel.caCert));
      assert.equal(g.text(gatewayPaths.crl), pkiFile(rel.crl));
      assert.equal(g.text(gatewayPaths.cert(name)), pkiFile(rel.gatewayCert(name)));
      assert.notEqual(pkiFile(rel.gatewayCert(name)), oldCerts.get(name));
    }
    assert.ok(allUp());
    // every tunnel end (re)started exactly three times, once per phase, by its own gateway's converge
    for (const name of NAMES) {
      const commands = network.get(name).log.slice(logFrom.get(name));
      for (const peer of NAMES.filter((p) => p !== name)) {
        const startsOf = commands.filter(
          (r) =>
            r.argv[0] === 'systemctl' &&
            ['start', 'restart'].includes(r.argv[1]!) &&
            r.argv.includes(unit(peer)),
        );
        assert.equal(
          startsOf.length,
          3,
          `${name} ${unit(peer)}: ${startsOf.map((r) => r.argv.join(' ')).join('; ')}`,
        );
      }
    }
    // an old certificate is refused now: alpha presenting it gets no tunnel
    const alpha = network.get('alpha');
    alpha.files.get(gatewayPaths.cert('alpha'))!.content = Buffer.from(oldCerts.get('alpha')!);
    const restart = alpha.exec(['systemctl', 'restart', unit('beta')]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(alpha.tunnelUp(unit('beta')), false, 'beta refuses a certificate of the retired CA');
  });

  it('stopped in phase 2 at a gateway whose tunnels do not come up: its old certificate is back, every gateway trusts both CAs; the same command finishes', async () => {
    const oldCert = pkiFile(rel.gatewayCert('gamma'));
    const gamma = mesh.network.get('gamma');
    // gamma's OpenVPN fails on the reissued certificate (a stand-in for any start failure)
    gamma.refuses = () => gamma.text(gatewayPaths.cert('gamma')) !== oldCert;
    const c = captured(true);
    assert.equal(await rotate(engineOptions(mesh.dir, { ca: true, json: true }), c.out, connector()), 1);
    assert.match(
      c.errors(),
      /stopped at gamma in phase 2 of 3 \(reissue\), 2 of 3 gateways; done: alpha, beta/,
    );
    assert.match(c.errors(), /run `meshctl rotate --ca` again: it goes on from gamma/);
    const record = readRotation(pki);
    assert.equal(record?.kind, 'ca');
    assert.equal(record?.kind === 'ca' && record.phase, 'reissue');
    assert.deepEqual(record?.kind === 'ca' && record.done, ['alpha', 'beta']);
    assert.equal(pkiFile(rel.gatewayCert('gamma')), oldCert, 'pki_dir has the old certificate back');
    assert.equal(gamma.text(gatewayPaths.cert('gamma')), oldCert, 'so has gamma');
    for (const name of NAMES) assert.equal(trusted(name).length, 2, `${name} trusts both CAs`);
    assert.ok(allUp(), 'every tunnel is up: alpha and beta on new certificates, gamma on its old one');

    // meanwhile: no other rotation, no new certificate, no revocation
    await assert.rejects(
      rotate(engineOptions(mesh.dir, { gateway: 'beta' }), captured().out, connector()),
      (e: Error) =>
        e instanceof UsageError && /another rotation is not finished \(meshctl rotate --ca/.test(e.message),
    );
    const before = treeSnapshot(pki);
    const dirBefore = fileHashes(mesh.dir);
    await assert.rejects(
      removeLan({ ...engineOptions(mesh.dir), name: 'gamma' }, captured().out, connector()),
      (e: Error) => e instanceof UsageError && /a CA rotation is in progress/.test(e.message),
    );
    assert.deepEqual(treeSnapshot(pki), before);
    assert.deepEqual(fileHashes(mesh.dir), dirBefore);
    await assert.rejects(
      addLan(
        { ...engineOptions(mesh.dir), name: 'delta', subnet: ['10.99.0.0/24'], endpoint: '192.0.2.44' },
        captured().out,
        connector(),
      ),
      (e: Error) => e instanceof UsageError && /a CA rotation is in progress/.test(e.message),
    );
    assert.deepEqual(treeSnapshot(pki), before);
    assert.deepEqual(fileHashes(mesh.dir), dirBefore, 'add-lan wrote no LAN file either');

    gamma.refuses = () => false;
    await resumesToTheEnd(/resuming, phase 2 of 3 \(reissue\), 2 of 3 gateways; done: alpha, beta/);
  });

  it('a gateway that cannot be reached refuses the rotation before anything is written', async () => {
    mesh.network.get('beta').reachable = false;
    const before = treeSnapshot(pki);
    await assert.rejects(
      rotate(engineOptions(mesh.dir, { ca: true }), captured().out, connector()),
      (e: Error) =>
        e instanceof UsageError && /beta \(connect: .*could not be read; nothing was changed/.test(e.message),
    );
    assert.deepEqual(treeSnapshot(pki), before);
    assert.equal(readRotation(pki), undefined);
  });

  it('a gateway lost in phase 1: the rotation stops there, the gateways after it keep the old CA alone; the same command goes on', async () => {
    const beta = mesh.network.get('beta');
    // beta answers the check before the rotation, then drops off (its tunnels keep running)
    const losing = sshLostAt('beta', 2);
    const c = captured();
    assert.equal(await rotate(engineOptions(mesh.dir, { ca: true }), c.out, losing), 1);
    assert.match(c.errors(), /stopped at beta in phase 1 of 3 \(trust\), 1 of 3 gateways; done: alpha/);
    const record = readRotation(pki);
    assert.deepEqual(record?.kind === 'ca' && [record.phase, record.done], ['trust', ['alpha']]);
    assert.equal(trusted('alpha').length, 2);
    assert.equal(trusted('beta').length, 1);
    assert.equal(trusted('gamma').length, 1, 'gamma is not touched while beta is not done');
    const oldCa = trusted('gamma')[0]!;
    // every gateway still trusts the CA of every certificate in use (all the old CA's)
    for (const name of NAMES) assert.ok(trusted(name).includes(oldCa), name);
    assert.ok(allUp());
    beta.sshDown = false;
    await resumesToTheEnd(/resuming, phase 1 of 3 \(trust\), 1 of 3 gateways; done: alpha/);
  });

  it('refuses to begin while a gateway of the inventory has no certificate yet, writing nothing', async () => {
    const before = treeSnapshot(pki);
    // delta: in the inventory, never applied: no certificate
    mesh.writeLanText(
      'delta',
      'id: 4\nsubnets: [10.4.0.0/16]\ngateway:\n  endpoint: 198.51.100.4\n  ssh_host: delta.memory\n',
    );
    mesh.network.add('delta', 'delta.memory').addresses = ['10.4.0.1/16'];
    await assert.rejects(
      rotate(engineOptions(mesh.dir, { ca: true }), captured().out, connector()),
      (e: Error) =>
        e instanceof PkiError &&
        /delta has no certificate and key yet \(fix: `meshctl apply` first/.test(e.message),
    );
    assert.deepEqual(treeSnapshot(pki), before);
    assert.equal(readRotation(pki), undefined);
  });

  it('stopped while phase 3 installed the new CA in pki_dir: apply refuses, naming rotate --ca; rotate --ca finishes', async () => {
    const gamma = mesh.network.get('gamma');
    // gamma answers the check, phase 1 and phase 2, then drops off before its phase-3 converge
    const losing = sshLostAt('gamma', 4);
    assert.equal(await rotate(engineOptions(mesh.dir, { ca: true }), captured().out, losing), 1);
    const record = readRotation(pki);
    assert.deepEqual(record?.kind === 'ca' && [record.phase, record.done], ['retire', ['alpha', 'beta']]);
    // as if the run had stopped between installing the new CA's key and its certificate
    writeFileSync(path.join(pki, rel.caCert), pkiFile(rel.previousCaCert));
    gamma.sshDown = false;
    await assert.rejects(apply(engineOptions(mesh.dir), captured().out, connector()), (e: Error) =>
      /the new CA was not fully installed[\s\S]*run `meshctl rotate --ca`, which installs it/.test(e.message),
    );
    await resumesToTheEnd(/resuming, phase 3 of 3 \(retire\), 2 of 3 gateways; done: alpha, beta/);
  });

  it('refuses --ca with --pair or --gateway before anything is touched', async () => {
    const before = treeSnapshot(pki);
    for (const extra of [{ pair: 'alpha,beta' }, { gateway: 'beta' }]) {
      await assert.rejects(
        rotate(engineOptions(mesh.dir, { ca: true, ...extra }), captured().out, connector()),
        (e: Error) =>
          e instanceof UsageError && /exactly one of --pair A,B.*--ca.*2 were given/.test(e.message),
      );
    }
    assert.deepEqual(treeSnapshot(pki), before);
  });
});
