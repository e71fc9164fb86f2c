import assert from 'node:assert/strict';
import { run as apply } from '../../../src/commands/apply.js';
import { run as diff } from '../../../src/commands/diff.js';
import { run as removeLan } from '../../../src/commands/remove-lan.js';
import type { MemoryGateway } from '../../helpers/memory-gateway.js';
import { captured, engineOptions, type MemoryMesh, memoryMesh } from '../../helpers/memory-mesh.js';

/**
 * The pre-flight checks through the real diff and apply, against memory gateways whose probe reports the
 * condition: an error refuses that gateway before anything is written (the others go on), a warning is a note of
 * its plan. The lab test (test/e2e/preflight.test.ts) creates the same conditions on real gateways.
 */

interface GatewayJson {
  lan: string;
  status: string;
  error?: { stage: string; message: string };
}
interface PlanJson {
  lan: string;
  notes: string[];
}

const LANS = [
  { name: 'alpha', id: 1 },
  { name: 'beta', id: 2 },
  { name: 'gamma', id: 3 },
];

async function runDiff(mesh: MemoryMesh) {
  const c = captured(true);
  const code = await diff(engineOptions(mesh.dir, { json: true }), c.out, {
    connector: mesh.network.connector,
  });
  const result = c.json();
  const gateways = result.gateways as GatewayJson[];
  const plans = result.plans as PlanJson[];
  return {
    code,
    error: (lan: string) => gateways.find((g) => g.lan === lan)?.error,
    notes: (lan: string) => plans.find((p) => p.lan === lan)?.notes ?? [],
    allNotes: () => plans.flatMap((p) => p.notes),
  };
}

async function runApply(mesh: MemoryMesh) {
  const c = captured(true);
  const code = await apply(engineOptions(mesh.dir, { json: true }), c.out, {
    connector: mesh.network.connector,
  });
  const gateways = c.json().gateways as GatewayJson[];
  return { code, error: (lan: string) => gateways.find((g) => g.lan === lan)?.error };
}

/** The gateway was refused at planning: nothing was written, no unit started. */
function untouched(gateway: MemoryGateway): void {
  assert.deepEqual([...gateway.files.keys()], [], `${gateway.name} has no file`);
  assert.ok(
    gateway.commands().every((c) => c.startsWith('meshctl-probe')),
    `${gateway.name} ran only the probe: ${gateway.commands().join(', ')}`,
  );
}

describe('pre-flight checks through diff and apply (memory gateways)', function () {
  this.timeout(30_000);
  let mesh: MemoryMesh;
  beforeEach(() => {
    mesh = memoryMesh(LANS);
  });
  afterEach(() => mesh.cleanup());

  const gw = (name: string) => mesh.network.get(name);

  it('finds nothing on clean gateways, nor on a converged mesh (its own tun routes and sockets do not count)', async () => {
    const fresh = await runDiff(mesh);
    assert.equal(fresh.code, 2);
    assert.deepEqual(
      fresh.allNotes().filter((n) => n.startsWith('pre-flight')),
      [],
    );
    assert.equal((await runApply(mesh)).code, 0);
    const after = await runDiff(mesh);
    assert.equal(after.code, 0);
    assert.deepEqual(after.allNotes(), []);
  });

  it('refuses a gateway with no address or route in any of its subnets (a typo), and apply leaves it untouched', async () => {
    gw('alpha').addresses = ['192.168.7.1/24'];
    const d = await runDiff(mesh);
    assert.equal(d.code, 1);
    assert.equal(d.error('alpha')?.stage, 'plan');
    assert.match(
      d.error('alpha')!.message,
      /^alpha \(alpha\.memory\): no interface address or route of the gateway lies in its subnets 10\.1\.0\.0\/16 \(its addresses are 192\.168\.7\.1\/24 \(eth0\)\).*Fix: correct subnets in lans\/alpha\.yml/,
    );
    assert.match(d.error('alpha')!.message, /refused before anything is written \(1 pre-flight problem\)/);
    const a = await runApply(mesh);
    assert.equal(a.code, 1);
    untouched(gw('alpha'));
    assert.ok(gw('beta').files.size > 0, 'the others converge');
  });

  it('notes a second subnet the gateway neither holds nor routes', async () => {
    mesh.writeLan({ name: 'alpha', id: 1, subnets: ['10.1.0.0/16', '192.168.50.0/24'] });
    const d = await runDiff(mesh);
    assert.equal(d.code, 2);
    assert.ok(
      d
        .notes('alpha')
        .some((n) =>
          /subnet 192\.168\.50\.0\/24 of lans\/alpha\.yml has no interface address or route/.test(n),
        ),
      d.notes('alpha').join('\n'),
    );
    gw('alpha').routes = ['192.168.50.0/24 via 10.1.0.254 dev eth0'];
    assert.deepEqual((await runDiff(mesh)).notes('alpha'), [], 'a LAN behind a router is reached');
  });

  it('refuses a gateway where the transit range or a remote subnet is already routed (Docker, another VPN)', async () => {
    gw('beta').routes = ['172.19.0.0/16 dev docker0 proto kernel scope link src 172.19.0.1'];
    gw('gamma').routes = ['10.1.4.0/24 via 10.3.0.254 dev eth0', 'default via 10.8.0.1 dev tun0 table 51820'];
    const d = await runDiff(mesh);
    assert.equal(d.code, 1);
    const beta = d.error('beta')!.message;
    assert.match(
      beta,
      /beta \(beta\.memory\): transit 172\.19\.0\.4\/30 \(tunnel to alpha\), transit 172\.19\.0\.12\/30 \(tunnel to gamma\) collide with route "172\.19\.0\.0\/16 dev docker0[^"]*" already on the gateway.*Fix: give mesh\.yml a transit range/,
    );
    assert.match(beta, /refused before anything is written \(1 pre-flight problem\)/);
    assert.match(
      d.error('gamma')!.message,
      /gamma \(gamma\.memory\): alpha's subnet 10\.1\.0\.0\/16 collides with route "10\.1\.4\.0\/24 via 10\.3\.0\.254 dev eth0".*Fix: a network is reached one way only/,
    );
    assert.equal(d.error('alpha'), undefined);
  });

  it('does not count a less specific route through a router (the mesh route is more specific)', async () => {
    gw('gamma').routes = ['10.0.0.0/8 via 10.3.0.254 dev eth0', 'blackhole 172.16.0.0/12'];
    const d = await runDiff(mesh);
    assert.equal(d.code, 2);
    assert.equal(d.error('gamma'), undefined);
  });

  it("refuses a gateway where another process holds a tunnel's UDP port", async () => {
    gw('alpha').udpSockets = [{ port: 11001, name: 'dnsmasq', pid: 4242 }];
    gw('beta').udpSockets = [{ port: 11003, name: '', pid: 0 }];
    const d = await runDiff(mesh);
    assert.equal(d.code, 1);
    assert.match(
      d.error('alpha')!.message,
      /alpha \(alpha\.memory\): UDP port 11001 of the tunnel to beta is already bound by "dnsmasq" \(pid 4242\) on 0\.0\.0\.0, which meshctl does not manage.*Fix: stop or reconfigure that process/,
    );
    assert.match(
      d.error('beta')!.message,
      /UDP port 11003 of the tunnel to gamma is already bound by a process the probe cannot name/,
    );
    const a = await runApply(mesh);
    assert.equal(a.code, 1);
    untouched(gw('alpha'));
  });

  it("refuses a gateway whose clock is behind the bastion's; notes one that is ahead", async () => {
    gw('alpha').clockOffset = -600;
    gw('beta').clockOffset = 3 * 3600;
    gw('gamma').clockOffset = -120;
    const d = await runDiff(mesh);
    assert.equal(d.code, 1);
    assert.match(
      d.error('alpha')!.message,
      /alpha \(alpha\.memory\): the gateway's clock is 10 min behind the bastion's \(gateway 20.*, bastion 20.*\).*CRL is not yet valid.*Fix: set the clock and keep it synced \(timedatectl set-ntp true/,
    );
    assert.equal(d.error('beta'), undefined);
    assert.ok(d.notes('beta').some((n) => /clock is 3 h ahead of the bastion's/.test(n)));
    assert.equal(d.error('gamma'), undefined, 'two minutes is within the tolerance');
    assert.deepEqual(d.notes('gamma'), []);
  });

  it('refuses a gateway where a sysctl file read after 99-meshctl.conf turns forwarding off', async () => {
    gw('alpha').files.set('/etc/sysctl.d/99-zz-local.conf', {
      content: Buffer.from('# local\nnet.ipv4.ip_forward = 0\n'),
      mode: 0o644,
      owner: 'root',
    });
    gw('beta').files.set('/etc/sysctl.conf', {
      content: Buffer.from('net/ipv4/conf/all/forwarding=0\n'),
      mode: 0o644,
      owner: 'root',
    });
    gw('gamma').files.set('/etc/sysctl.d/10-early.conf', {
      content: Buffer.from('net.ipv4.ip_forward = 0\n'),
      mode: 0o644,
      owner: 'root',
    });
    const d = await runDiff(mesh);
    assert.match(
      d.error('alpha')!.message,
      /alpha \(alpha\.memory\): \/etc\/sysctl\.d\/99-zz-local\.conf sets "net\.ipv4\.ip_forward = 0" and is read after \/etc\/sysctl\.d\/99-meshctl\.conf.*forwarding goes off.*Fix: delete that line/,
    );
    assert.match(d.error('beta')!.message, /\/etc\/sysctl\.conf sets "net\/ipv4\/conf\/all\/forwarding=0"/);
    assert.equal(d.error('gamma'), undefined, 'a file read before meshctl’s is overridden by it');
  });

  it("refuses a gateway whose FORWARD chain drops everything ahead of meshctl's chain; notes a DROP policy", async () => {
    gw('gamma').forwardPolicy = 'DROP';
    const fresh = await runDiff(mesh);
    assert.ok(
      fresh
        .notes('gamma')
        .some((n) =>
          /the FORWARD policy is DROP and meshctl's chain MESHCTL-FORWARD is not in FORWARD yet: apply inserts it as rule 1/.test(
            n,
          ),
        ),
      fresh.notes('gamma').join('\n'),
    );
    assert.equal((await runApply(mesh)).code, 0);
    assert.deepEqual((await runDiff(mesh)).allNotes(), [], 'converged: the jump is in place');

    gw('alpha').forwardRulesAhead = ['-A FORWARD -j DROP'];
    gw('beta').forwardRulesAhead = ['-A FORWARD -i eth9 -j REJECT --reject-with icmp-port-unreachable'];
    gw('gamma').nftChains = [
      'table inet filter {',
      'chain forward {',
      'type filter hook forward priority filter; policy drop;',
    ];
    const d = await runDiff(mesh);
    assert.equal(d.code, 1);
    assert.match(
      d.error('alpha')!.message,
      /alpha \(alpha\.memory\): rule 1 of the FORWARD chain, "-A FORWARD -j DROP", drops every forwarded packet before meshctl's chain MESHCTL-FORWARD \(rule 2\).*Fix: delete it \(iptables -D FORWARD 1\)/,
    );
    assert.ok(
      d.notes('beta').some((n) => /rule 1 of the FORWARD chain, "-A FORWARD -i eth9 -j REJECT/.test(n)),
    );
    assert.ok(
      d
        .notes('gamma')
        .some((n) => /nftables chain forward of table inet filter \(hook forward\) has policy drop/.test(n)),
    );
  });

  it('hub-and-spoke: a leaf checks the subnets it reaches through the hub too, and ignores the routes routes.sh installs', async () => {
    mesh.cleanup();
    mesh = memoryMesh([
      { name: 'hub', id: 1 },
      { name: 'spoke-a', id: 2, via: ['hub'] },
      { name: 'spoke-b', id: 3, via: ['hub'] },
    ]);
    assert.equal((await runApply(mesh)).code, 0);
    // what routes.sh installs on a leaf for the other leaf (through the hub's tunnel): the mesh's own
    gw('spoke-a').routes = ['10.3.0.0/16 via 172.19.0.5 dev mtun1 proto 199'];
    assert.equal((await runDiff(mesh)).code, 0);
    // an old static route to the other leaf, over the LAN: taken from the mesh
    gw('spoke-a').routes = ['10.3.0.0/16 via 10.2.0.254 dev eth0 proto static'];
    const d = await runDiff(mesh);
    assert.equal(d.code, 1);
    assert.match(
      d.error('spoke-a')!.message,
      /spoke-a \(spoke-a\.memory\): spoke-b's subnet 10\.3\.0\.0\/16 collides with route "10\.3\.0\.0\/16 via 10\.2\.0\.254 dev eth0 proto static"/,
    );
  });

  it('remove-lan empties a gateway that fails the checks: nothing of the mesh is left there to break', async () => {
    assert.equal((await runApply(mesh)).code, 0);
    gw('gamma').clockOffset = -3600;
    gw('gamma').forwardRulesAhead = ['-A FORWARD -j DROP'];
    const c = captured(true);
    const code = await removeLan({ ...engineOptions(mesh.dir, { json: true }), name: 'gamma' }, c.out, {
      connector: mesh.network.connector,
    });
    assert.equal(code, 0, c.errors());
    assert.equal(gw('gamma').files.size, 0, [...gw('gamma').files.keys()].join(', '));
  });
});
