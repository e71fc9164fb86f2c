import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../../src/cli.js';
import { run as apply } from '../../../src/commands/apply.js';
import { run as rotate } from '../../../src/commands/rotate.js';
import { run as status } from '../../../src/commands/status.js';
import { run as validate } from '../../../src/commands/validate.js';
import { PkiError, UsageError } from '../../../src/errors.js';
import { gatewayPaths } from '../../../src/gateway/layout.js';
import { loadInventoryOrThrow } from '../../../src/inventory/load.js';
import { LOCK_FILE } from '../../../src/lock.js';
import {
  certificatePem,
  certSerial,
  createGatewayCertificate,
  parseCertificate,
  randomSerial,
} from '../../../src/pki/certificates.js';
import { crlSerials, parseCrl } from '../../../src/pki/crl.js';
import { importKeyPair, parsePrivateKey } from '../../../src/pki/keys.js';
import { rel } from '../../../src/pki/layout.js';
import { beginPairRotation, readRotation } from '../../../src/pki/rotation.js';
import { MemoryNetwork } from '../../helpers/memory-gateway.js';
import { captured, engineOptions, type MemoryMesh, memoryMesh } from '../../helpers/memory-mesh.js';
import { fileHashes, treeSnapshot } from '../../helpers/snapshot.js';

/**
 * `meshctl rotate` through the real command against memory gateways: what changes on which gateway (and nothing
 * else), which units restart (and no other), the rollback at both ends and in pki_dir, the revocation reaching
 * every gateway, refusals before anything happens, an interrupted rotation finished by the same command, and the
 * expiry checks that name it.
 */

const LANS = [
  { name: 'alpha', id: 1 },
  { name: 'beta', id: 2 },
  { name: 'gamma', id: 3 },
];
const NAMES = LANS.map((l) => l.name);
const unit = (peer: string) => `openvpn-server@mesh-${peer}.service`;
/** Pair indices of ids a < b: (b-1)(b-2)/2 + a. */
const PAIR_AB = 1;

function pids(network: MemoryNetwork): Map<string, number> {
  const result = new Map<string, number>();
  for (const g of network.gateways.values())
    for (const [u, s] of g.units) if (s.pid > 0) result.set(`${g.name} ${u}`, s.pid);
  return result;
}

/** The keys whose PID changed between two readings. */
function restarted(before: Map<string, number>, after: Map<string, number>): string[] {
  return [...before].filter(([key, pid]) => after.get(key) !== pid).map(([key]) => key);
}

/** Every file of every gateway (path → content), the manifest left out (it records checksums). */
function gatewayFiles(network: MemoryNetwork): Map<string, string> {
  const files = new Map<string, string>();
  for (const g of network.gateways.values())
    for (const [p, f] of g.files) {
      if (p === gatewayPaths.manifest || p.includes('.meshctl-')) continue;
      files.set(`${g.name} ${p}`, f.content.toString('utf8'));
    }
  return files;
}

function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}

function execCount(network: MemoryNetwork): number {
  return [...network.gateways.values()].reduce((n, g) => n + g.log.length, 0);
}

describe('rotate against memory gateways', function () {
  this.timeout(30_000);
  let mesh: MemoryMesh;
  let pki: string;
  const connector = () => ({ connector: mesh.network.connector });
  const pkiFile = (relative: string) => readFileSync(path.join(pki, relative), 'utf8');

  beforeEach(async () => {
    mesh = memoryMesh(LANS);
    pki = loadInventoryOrThrow(mesh.dir).inventory.mesh.pkiDir;
    const c = captured();
    assert.equal(await apply(engineOptions(mesh.dir), c.out, connector()), 0, c.text());
  });
  afterEach(() => mesh.cleanup());

  it('--plan prints the phases and what restarts, and writes nothing anywhere', async () => {
    const pkiBefore = treeSnapshot(pki);
    const dirBefore = fileHashes(mesh.dir);
    const execs = execCount(mesh.network);
    for (const args of [{ pair: 'beta,alpha' }, { gateway: 'beta' }]) {
      const c = captured();
      assert.equal(await rotate(engineOptions(mesh.dir, { ...args, plan: true }), c.out, connector()), 0);
      assert.match(c.text(), /Nothing was written \(--plan\)/);
      assert.match(c.text(), /restarts:/);
    }
    const c = captured();
    await rotate(engineOptions(mesh.dir, { gateway: 'beta', plan: true }), c.out, connector());
    assert.match(c.text(), /phase 1: new key and certificate for beta/);
    assert.match(c.text(), /phase 2: revoke the old certificate of beta/);
    assert.match(c.text().split('phase 2')[1]!, /gamma: openvpn-server@mesh-beta\.service/);
    assert.match(c.text(), /alpha: openvpn-server@mesh-beta\.service/);
    assert.doesNotMatch(c.text(), /alpha: openvpn-server@mesh-gamma/);
    assert.deepEqual(treeSnapshot(pki), pkiBefore);
    assert.deepEqual(fileHashes(mesh.dir), dirBefore);
    assert.equal(execCount(mesh.network), execs, 'no gateway contacted');
  });

  it('--pair: a new key at both ends of that pair only; only its two units restart', async () => {
    const before = gatewayFiles(mesh.network);
    const pidsBefore = pids(mesh.network);
    const oldKey = pkiFile(rel.tlsCrypt(PAIR_AB));
    const c = captured(true);
    assert.equal(
      await rotate(engineOptions(mesh.dir, { pair: 'alpha,beta', json: true }), c.out, connector()),
      0,
      c.errors(),
    );
    const newKey = pkiFile(rel.tlsCrypt(PAIR_AB));
    assert.notEqual(newKey, oldKey);
    const path1 = gatewayPaths.tlsCrypt(PAIR_AB);
    assert.deepEqual(changedFiles(before, gatewayFiles(mesh.network)), [`alpha ${path1}`, `beta ${path1}`]);
    assert.equal(mesh.network.get('alpha').text(path1), newKey);
    assert.equal(mesh.network.get('beta').text(path1), newKey);
    assert.deepEqual(restarted(pidsBefore, pids(mesh.network)).sort(), [
      `alpha ${unit('beta')}`,
      `beta ${unit('alpha')}`,
    ]);
    assert.ok(mesh.network.get('alpha').tunnelUp(unit('beta')));
    // the rotation is finished: no record, nothing kept aside
    assert.equal(readRotation(pki), undefined);
    assert.deepEqual(readdirSync(path.join(pki, rel.rotationDir)), []);
    const result = c.json();
    assert.equal(result.command, 'rotate');
    assert.equal(result.outcome, 'rotated');
    // no key material in the output
    assert.ok(!JSON.stringify(result).includes(newKey.split('\n')[5]!));
    assert.ok(!c.errors().includes(newKey.split('\n')[5]!));
  });

  it('--pair: a tunnel that does not come up gets the previous key back at both ends and in pki_dir', async () => {
    const oldKey = pkiFile(rel.tlsCrypt(PAIR_AB));
    const before = gatewayFiles(mesh.network);
    // the path between alpha and beta is cut: the restarted pair cannot come up
    mesh.network.cut.add(MemoryNetwork.pairKey('alpha', 'beta'));
    const c = captured(true);
    assert.equal(
      await rotate(engineOptions(mesh.dir, { pair: 'alpha,beta', json: true }), c.out, connector()),
      1,
    );
    const outcomes = (c.json().gateways as { tunnels: { outcome: { kind: string } }[] }[]).map(
      (g) => g.tunnels[0]!.outcome.kind,
    );
    assert.deepEqual(outcomes, ['rolled-back', 'rolled-back']);
    assert.equal(c.json().outcome, 'rolled-back');
    assert.match(c.errors(), /previous key is restored at both ends and in pki_dir/);
    assert.equal(pkiFile(rel.tlsCrypt(PAIR_AB)), oldKey);
    assert.equal(mesh.network.get('alpha').text(gatewayPaths.tlsCrypt(PAIR_AB)), oldKey);
    assert.equal(mesh.network.get('beta').text(gatewayPaths.tlsCrypt(PAIR_AB)), oldKey);
    assert.deepEqual(changedFiles(before, gatewayFiles(mesh.network)), []);
    assert.equal(readRotation(pki), undefined);
    // and the next rotation works once the cause is gone
    mesh.network.cut.clear();
    assert.equal(
      await rotate(engineOptions(mesh.dir, { pair: 'alpha,beta' }), captured().out, connector()),
      0,
    );
    assert.notEqual(pkiFile(rel.tlsCrypt(PAIR_AB)), oldKey);
  });

  it('--pair: an outcome it cannot be sure of keeps the rotation pending; the same command finishes it', async () => {
    const oldKey = pkiFile(rel.tlsCrypt(PAIR_AB));
    // beta's OpenVPN refuses every start: the new key fails, and so does the restart on the restored one
    mesh.network.get('beta').refuses = () => true;
    const c = captured();
    assert.equal(await rotate(engineOptions(mesh.dir, { pair: 'alpha,beta' }), c.out, connector()), 1);
    assert.match(c.errors(), /not finished: .*run `meshctl rotate --pair alpha,beta` again to finish/);
    assert.equal(readRotation(pki)?.kind, 'pair');
    assert.equal(pkiFile(rel.previousTlsCrypt(PAIR_AB)), oldKey, 'the previous key is kept aside');
    mesh.network.get('beta').refuses = () => false;
    assert.equal(
      await rotate(engineOptions(mesh.dir, { pair: 'alpha,beta' }), captured().out, connector()),
      0,
    );
    const newKey = pkiFile(rel.tlsCrypt(PAIR_AB));
    assert.notEqual(newKey, oldKey);
    assert.equal(mesh.network.get('beta').text(gatewayPaths.tlsCrypt(PAIR_AB)), newKey);
    assert.ok(mesh.network.get('beta').tunnelUp(unit('alpha')));
    assert.equal(readRotation(pki), undefined);
  });

  it('--pair: an unreachable end changes neither end, and pki_dir keeps the previous key', async () => {
    const oldKey = pkiFile(rel.tlsCrypt(PAIR_AB));
    const before = gatewayFiles(mesh.network);
    mesh.network.get('beta').reachable = false;
    const c = captured();
    assert.equal(await rotate(engineOptions(mesh.dir, { pair: 'alpha,beta' }), c.out, connector()), 1);
    assert.match(c.errors(), /no gateway was changed/);
    assert.deepEqual(changedFiles(before, gatewayFiles(mesh.network)), []);
    assert.equal(pkiFile(rel.tlsCrypt(PAIR_AB)), oldKey);
    assert.equal(readRotation(pki), undefined);
  });

  it('a --pair stopped after its record but before the new key: the resume writes a new key and rolls it out', async () => {
    const before = pkiFile(rel.tlsCrypt(PAIR_AB));
    await beginPairRotation({ dir: pki, mesh: 'memory', pair: PAIR_AB, ends: ['alpha', 'beta'] });
    // the crash: the record and the kept copy are written, the pair's key is still the previous one
    writeFileSync(path.join(pki, rel.tlsCrypt(PAIR_AB)), before, { mode: 0o600 });
    const c = captured();
    assert.equal(
      await rotate(engineOptions(mesh.dir, { pair: 'alpha,beta' }), c.out, connector()),
      0,
      c.errors(),
    );
    const after = pkiFile(rel.tlsCrypt(PAIR_AB));
    assert.notEqual(after, before, 'never "rotated" onto the old key');
    assert.equal(mesh.network.get('alpha').text(gatewayPaths.tlsCrypt(PAIR_AB)), after);
    assert.equal(mesh.network.get('beta').text(gatewayPaths.tlsCrypt(PAIR_AB)), after);
    assert.equal(readRotation(pki), undefined);
  });

  it('an interrupted --pair is finished by the same command; another rotation is refused meanwhile', async () => {
    // a run that stopped after pki_dir changed, before any gateway was converged
    const record = await beginPairRotation({
      dir: pki,
      mesh: 'memory',
      pair: PAIR_AB,
      ends: ['alpha', 'beta'],
    });
    const newKey = pkiFile(rel.tlsCrypt(PAIR_AB));
    // the other commands say so
    const v = captured();
    assert.equal(await validate(engineOptions(mesh.dir), v.out), 0);
    assert.match(
      v.errors(),
      /warning: a key rotation .* is not finished\. Fix: run `meshctl rotate --pair alpha,beta`/,
    );
    await assert.rejects(
      rotate(engineOptions(mesh.dir, { gateway: 'gamma' }), captured().out, connector()),
      (e: Error) =>
        e instanceof UsageError && /meshctl rotate --pair alpha,beta.*to finish it first/.test(e.message),
    );
    const c = captured();
    await rotate(engineOptions(mesh.dir, { pair: 'beta,alpha', plan: true }), c.out, connector());
    assert.match(c.text(), /resumes/);
    // resumed with an end unreachable: nothing proves which key the gateways hold, so nothing is undone
    mesh.network.get('beta').reachable = false;
    const down = captured();
    assert.equal(await rotate(engineOptions(mesh.dir, { pair: 'beta,alpha' }), down.out, connector()), 1);
    assert.match(down.errors(), /not finished/);
    assert.equal(pkiFile(rel.tlsCrypt(PAIR_AB)), newKey);
    assert.equal(readRotation(pki)?.kind, 'pair');
    mesh.network.get('beta').reachable = true;
    assert.equal(
      await rotate(engineOptions(mesh.dir, { pair: 'beta,alpha' }), captured().out, connector()),
      0,
    );
    assert.equal(
      pkiFile(rel.tlsCrypt(PAIR_AB)),
      newKey,
      'the key of the interrupted run is the one rolled out',
    );
    assert.equal(mesh.network.get('beta').text(gatewayPaths.tlsCrypt(PAIR_AB)), newKey);
    assert.equal(readRotation(pki), undefined);
    assert.ok(record.startedAt);
  });

  it('--gateway: a new key and certificate on that gateway only, the old serial revoked on every gateway; only its tunnels restart', async () => {
    const before = gatewayFiles(mesh.network);
    const pidsBefore = pids(mesh.network);
    const oldCert = pkiFile(rel.gatewayCert('beta'));
    const oldSerial = certSerial(parseCertificate(oldCert)!);
    const c = captured();
    assert.equal(
      await rotate(engineOptions(mesh.dir, { gateway: 'beta' }), c.out, connector()),
      0,
      c.errors(),
    );
    const newCert = pkiFile(rel.gatewayCert('beta'));
    const cert = parseCertificate(newCert)!;
    assert.notEqual(certSerial(cert), oldSerial);
    assert.equal(cert.subjectName.getField('CN')[0], 'beta');
    const beta = mesh.network.get('beta');
    assert.equal(beta.text(gatewayPaths.cert('beta')), newCert);
    assert.equal(beta.text(gatewayPaths.key('beta')), pkiFile(rel.gatewayKey('beta')));
    const changed = changedFiles(before, gatewayFiles(mesh.network));
    assert.deepEqual(
      changed,
      [
        ...NAMES.map((n) => `${n} ${gatewayPaths.crl}`),
        `beta ${gatewayPaths.cert('beta')}`,
        `beta ${gatewayPaths.key('beta')}`,
        `beta ${gatewayPaths.managementPassword}`,
      ].sort(),
    );
    for (const g of mesh.network.gateways.values()) {
      assert.deepEqual(crlSerials(parseCrl(g.text(gatewayPaths.crl)!)!), [oldSerial], `${g.name}'s CRL`);
    }
    // beta's tunnels restart (both ends: for the new certificate, then for the new CRL); alpha <-> gamma does not
    assert.deepEqual(restarted(pidsBefore, pids(mesh.network)).sort(), [
      `alpha ${unit('beta')}`,
      `beta ${unit('alpha')}`,
      `beta ${unit('gamma')}`,
      `gamma ${unit('beta')}`,
    ]);
    assert.ok(existsSync(path.join(pki, rel.revokedCert('beta', oldSerial))));
    assert.equal(readRotation(pki), undefined);
    assert.deepEqual(readdirSync(path.join(pki, rel.rotationDir)), []);
    // the mesh is converged: another apply changes and restarts nothing
    const settled = pids(mesh.network);
    assert.equal(await apply(engineOptions(mesh.dir), captured().out, connector()), 0);
    assert.deepEqual(restarted(settled, pids(mesh.network)), []);
  });

  it('--gateway: tunnels that do not come up get the previous key and certificate back, on the gateway and in pki_dir', async () => {
    const oldCert = pkiFile(rel.gatewayCert('beta'));
    const oldKey = pkiFile(rel.gatewayKey('beta'));
    const crl = pkiFile(rel.crl);
    const before = gatewayFiles(mesh.network);
    // every tunnel of beta is cut: none comes up after the restart
    mesh.network.cut.add(MemoryNetwork.pairKey('alpha', 'beta'));
    mesh.network.cut.add(MemoryNetwork.pairKey('beta', 'gamma'));
    const c = captured();
    assert.equal(await rotate(engineOptions(mesh.dir, { gateway: 'beta' }), c.out, connector()), 1);
    assert.match(c.errors(), /previous key and certificate are restored on beta and in pki_dir/);
    assert.equal(pkiFile(rel.gatewayCert('beta')), oldCert);
    assert.equal(pkiFile(rel.gatewayKey('beta')), oldKey);
    assert.equal(pkiFile(rel.crl), crl, 'the CRL is not rewritten by the rollback');
    assert.deepEqual(changedFiles(before, gatewayFiles(mesh.network)), []);
    assert.equal(readRotation(pki), undefined);
    // the certificate issued for the rotation and never used is revoked all the same: the next apply's CRL lists it
    const state = JSON.parse(pkiFile(rel.state)) as { revoked: { lan: string }[]; issued: { lan: string }[] };
    assert.equal(state.revoked.filter((r) => r.lan === 'beta').length, 1, 'the unused serial is revoked');
    mesh.network.cut.clear();
    assert.equal(await apply(engineOptions(mesh.dir), captured().out, connector()), 0);
    assert.notEqual(pkiFile(rel.crl), crl, 'apply issued a CRL with it');
    assert.equal(pkiFile(rel.gatewayCert('beta')), oldCert, 'the certificate in use stays valid');
  });

  it('--gateway: a gateway that misses the new CRL keeps the rotation pending; the same command delivers it', async () => {
    // delta: a leaf via alpha, so not a peer of beta: beta's switch goes ahead, only the CRL cannot reach delta
    mesh.writeLanText(
      'delta',
      'id: 4\nsubnets: [10.4.0.0/16]\nvia: [alpha]\ngateway:\n  endpoint: 198.51.100.4\n  ssh_host: delta.memory\n',
    );
    mesh.network.add('delta', 'delta.memory').addresses = ['10.4.0.1/16'];
    assert.equal(await apply(engineOptions(mesh.dir), captured().out, connector()), 0);
    const oldSerial = certSerial(parseCertificate(pkiFile(rel.gatewayCert('beta')))!);
    mesh.network.get('delta').reachable = false;
    const c = captured(true);
    assert.equal(
      await rotate(engineOptions(mesh.dir, { gateway: 'beta', json: true }), c.out, connector()),
      1,
    );
    assert.equal(c.json().outcome, 'pending');
    assert.match(c.errors(), /delta did not get the new CRL yet.*run `meshctl rotate --gateway beta` again/s);
    const record = readRotation(pki);
    assert.ok(record?.kind === 'gateway' && record.phase === 'revoking');
    for (const name of NAMES) {
      const crl = parseCrl(mesh.network.get(name).text(gatewayPaths.crl)!)!;
      assert.deepEqual(crlSerials(crl), [oldSerial], `${name} has the new CRL`);
    }
    mesh.network.get('delta').reachable = true;
    const pidsBefore = pids(mesh.network);
    const again = captured();
    assert.equal(
      await rotate(engineOptions(mesh.dir, { gateway: 'beta' }), again.out, connector()),
      0,
      again.errors(),
    );
    assert.deepEqual(crlSerials(parseCrl(mesh.network.get('delta').text(gatewayPaths.crl)!)!), [oldSerial]);
    // only the tunnels that verify beta restart, to load the new CRL
    assert.deepEqual(restarted(pidsBefore, pids(mesh.network)).sort(), [
      `alpha ${unit('beta')}`,
      `beta ${unit('alpha')}`,
      `beta ${unit('gamma')}`,
      `gamma ${unit('beta')}`,
    ]);
    assert.equal(readRotation(pki), undefined);
  });

  it('refuses bad options before any lock, file or gateway is touched', async () => {
    mesh.writeLanText(
      'delta',
      'id: 4\nsubnets: [10.4.0.0/16]\nvia: [alpha]\ngateway:\n  endpoint: 198.51.100.4\n  ssh_host: delta.memory\n',
    );
    mesh.network.add('delta', 'delta.memory').addresses = ['10.4.0.1/16'];
    const pkiBefore = treeSnapshot(pki);
    const execs = execCount(mesh.network);
    const cases: [string[], RegExp][] = [
      [[], /exactly one of --pair A,B .*, --gateway NAME .* and --ca .*none was given/],
      [['--pair', 'alpha,beta', '--gateway', 'beta'], /2 were given/],
      [['--ca', '--gateway', 'beta'], /2 were given/],
      [['--ca', '--limit', 'beta'], /--limit: rotate converges exactly the gateways/],
      [['--pair', 'alpha'], /not two different gateway names/],
      [['--pair', 'alpha,alpha'], /not two different gateway names/],
      [['--pair', 'alpha,beta,gamma'], /not two different gateway names/],
      [['--pair', 'alpha,'], /an empty name in the list/],
      [
        ['--pair', 'alpha,nope'],
        /"nope" is not a gateway of the inventory.*gateways are: alpha, beta, gamma, delta/,
      ],
      [['--gateway', 'nope'], /"nope" is not a gateway/],
      [['--gateway', ''], /--gateway "": empty/],
      [['--gateway', 'beta', '--gateway', 'gamma'], /given 2 times/],
      [
        ['--pair', 'beta,delta'],
        /no tunnel between beta and delta.*Tunnels of beta: alpha, gamma; of delta: alpha/,
      ],
      [['--gateway', 'beta', '--limit', 'beta'], /--limit: rotate converges exactly/],
      [['--gateway', 'beta', '--tunnel-timeout', '0'], /--tunnel-timeout 0: below 1/],
      [['--ca', '--bogus'], /Unknown argument: bogus/],
    ];
    for (const [args, expected] of cases) {
      const stderr: string[] = [];
      const code = await main(['rotate', '-i', mesh.dir, '--no-color', ...args], {
        stdout: { write: () => true },
        stderr: { write: (s: string) => stderr.push(s) },
      });
      assert.equal(code, 1, `${args.join(' ')}: ${stderr.join('')}`);
      assert.match(stderr.join(''), expected, args.join(' '));
      assert.ok(!existsSync(path.join(mesh.dir, LOCK_FILE)), 'no lock left');
    }
    assert.deepEqual(treeSnapshot(pki), pkiBefore);
    assert.equal(execCount(mesh.network), execs, 'no gateway contacted');
  });
});

describe('expiry: validate, diff, apply and status warn from 90 days and fail once expired, naming rotate', function () {
  this.timeout(30_000);
  let mesh: MemoryMesh;
  let pki: string;
  const connector = () => ({ connector: mesh.network.connector });

  /** Replaces gamma's certificate (same key) by one of the CA that ends `days` from now (negative: ended). */
  async function reissueGamma(days: number): Promise<void> {
    const caKeyPem = readFileSync(path.join(pki, rel.caKey), 'utf8');
    const caKey = await importKeyPair(parsePrivateKey(caKeyPem)!, caKeyPem);
    const keyPem = readFileSync(path.join(pki, rel.gatewayKey('gamma')), 'utf8');
    const key = await importKeyPair(parsePrivateKey(keyPem)!, keyPem);
    const ca = parseCertificate(readFileSync(path.join(pki, rel.caCert), 'utf8'))!;
    const issued = new Date(Date.now() + days * 86_400_000);
    issued.setUTCFullYear(issued.getUTCFullYear() - 10);
    const cert = await createGatewayCertificate({
      lan: 'gamma',
      publicKey: key.publicKey,
      ca,
      caKey,
      serial: randomSerial(new Set()),
      now: issued,
    });
    writeFileSync(path.join(pki, rel.gatewayCert('gamma')), certificatePem(cert));
  }

  beforeEach(async () => {
    mesh = memoryMesh(LANS);
    pki = loadInventoryOrThrow(mesh.dir).inventory.mesh.pkiDir;
    assert.equal(await apply(engineOptions(mesh.dir), captured().out, connector()), 0);
  });
  afterEach(() => mesh.cleanup());

  it('within 90 days: a warning naming `meshctl rotate --gateway gamma`, and the command goes on', async () => {
    await reissueGamma(30);
    const c = captured();
    assert.equal(await apply(engineOptions(mesh.dir), c.out, connector()), 0, c.errors());
    assert.match(
      c.errors(),
      /warning: the certificate of gamma .* expires on .*Fix: `meshctl rotate --gateway gamma`/,
    );
    const v = captured();
    assert.equal(await validate(engineOptions(mesh.dir), v.out), 0);
    assert.match(v.errors(), /warning: the certificate of gamma/);
    const s = captured();
    await status(engineOptions(mesh.dir), s.out, connector());
    assert.match(s.errors(), /warning: the certificate of gamma/);
  });

  it('expired: validate, diff and apply refuse before any gateway is touched, status reads and exits 1; rotate --gateway fixes it', async () => {
    await reissueGamma(-2);
    const execs = execCount(mesh.network);
    const expired = (e: Error) =>
      e instanceof PkiError &&
      /the certificate of gamma .* expired on .*Fix: `meshctl rotate --gateway gamma`/.test(e.message);
    await assert.rejects(validate(engineOptions(mesh.dir), captured().out), expired);
    await assert.rejects(apply(engineOptions(mesh.dir), captured().out, connector()), expired);
    const { run: diff } = await import('../../../src/commands/diff.js');
    await assert.rejects(diff(engineOptions(mesh.dir), captured().out, connector()), expired);
    assert.equal(execCount(mesh.network), execs, 'no gateway contacted');
    // status still reads the mesh (its live picture matters most then), says what expired and exits 1
    const s = captured(true);
    assert.equal(await status(engineOptions(mesh.dir, { json: true }), s.out, connector()), 1);
    const report = s.json() as { health: string; expired: string[] };
    assert.equal(report.health, 'error');
    assert.match(
      report.expired.join('\n'),
      /the certificate of gamma .* expired on .*meshctl rotate --gateway gamma/,
    );
    const c = captured();
    assert.equal(
      await rotate(engineOptions(mesh.dir, { gateway: 'gamma' }), c.out, connector()),
      0,
      c.errors(),
    );
    assert.equal(await apply(engineOptions(mesh.dir), captured().out, connector()), 0);
    assert.equal(await validate(engineOptions(mesh.dir), captured().out), 0);
  });

  it('expired: apply --limit is stopped only by the expired certificate of a gateway it acts on', async () => {
    await reissueGamma(-2);
    const c = captured();
    assert.equal(
      await apply(engineOptions(mesh.dir, { limit: 'alpha,beta' }), c.out, connector()),
      0,
      c.errors(),
    );
    assert.match(
      c.errors(),
      /error: the certificate of gamma .* expired .*\(gamma is not acted on by this run\)/,
    );
    const execs = execCount(mesh.network);
    await assert.rejects(
      apply(engineOptions(mesh.dir, { limit: 'gamma' }), captured().out, connector()),
      (e: Error) => e instanceof PkiError && /the certificate of gamma .* expired/.test(e.message),
    );
    assert.equal(execCount(mesh.network), execs, 'no gateway contacted');
  });

  it('status still runs when a file of pki_dir cannot be read (a warning)', async () => {
    const { mkdirSync, renameSync } = await import('node:fs');
    // a directory where the CA certificate should be: unreadable as a file, whoever runs the test
    renameSync(path.join(pki, rel.caCert), path.join(pki, 'ca.crt.moved'));
    mkdirSync(path.join(pki, rel.caCert));
    const s = captured();
    const code = await status(engineOptions(mesh.dir), s.out, connector());
    assert.match(
      s.errors(),
      /warning: pki_dir: .*ca\.crt: cannot be read \(EISDIR\); expiry not checked for it/,
    );
    assert.notEqual(code, 1, s.errors());
  });
});
