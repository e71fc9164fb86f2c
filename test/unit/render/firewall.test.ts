import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderMesh } from '../../../src/render/render.js';
import { loadRoles } from '../../../src/render/roles.js';
import type { DesiredState } from '../../../src/types.js';
import { fixtureMesh, fixturePki } from './fixture.js';

/** Firewall, forwarding and boot-unit files (SPEC §3), read as rules rather than text. */

const mesh = fixtureMesh();
const states = renderMesh(mesh, fixturePki(mesh), loadRoles(), { version: '0.1.0-test' });

function content(state: DesiredState, path: string): string {
  return state.files.find((f) => f.path === path)!.content;
}

function rules(state: DesiredState): string[] {
  return content(state, '/etc/meshctl/iptables.rules')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
}

describe('render: firewall rules', () => {
  it('declares only meshctl’s own chains, in the filter table, and never a policy or a built-in chain', () => {
    for (const [, state] of states) {
      const lines = rules(state);
      assert.equal(lines[0], '*filter');
      assert.equal(lines[lines.length - 1], 'COMMIT');
      for (const line of lines.slice(1, -1)) {
        assert.match(line, /^(:MESHCTL-[A-Za-z0-9-]+ - \[0:0\]|-A MESHCTL-[A-Za-z0-9-]+ .*)$/, line);
      }
      assert.ok(!lines.some((l) => /^-[PFXDIN] |^:(INPUT|FORWARD|OUTPUT) /.test(l)));
    }
  });

  it('accepts each tunnel’s UDP port from the peer’s address, or from anywhere for a DNS endpoint', () => {
    const branch = rules(states.get('branch')!);
    assert.ok(branch.includes('-A MESHCTL-INPUT -p udp -s 203.0.113.10/32 --dport 11001 -j ACCEPT'));
    assert.ok(branch.includes('-A MESHCTL-INPUT -p udp --dport 11005 -j ACCEPT'));
    assert.match(
      content(states.get('branch')!, '/etc/meshctl/iptables.rules'),
      /vpn\.cloud\.example\.com is a DNS name[\s\S]*tls-crypt/,
    );
    assert.equal(branch.filter((l) => l.includes('-p udp')).length, 2);
  });

  it('drops, before any ACCEPT, tunnel packets whose source is not the peer’s subnets or transit address', () => {
    const branch = rules(states.get('branch')!);
    const src1 = branch.filter((l) => l.startsWith('-A MESHCTL-SRC-mtun1 '));
    assert.deepEqual(src1, [
      '-A MESHCTL-SRC-mtun1 -s 10.1.0.0/16 -j RETURN',
      '-A MESHCTL-SRC-mtun1 -s 172.19.0.5/32 -j RETURN',
      '-A MESHCTL-SRC-mtun1 -j DROP',
    ]);
    const head = rules(states.get('head-office')!);
    assert.deepEqual(
      head.filter((l) => l.startsWith('-A MESHCTL-SRC-mtun1 ')),
      [
        '-A MESHCTL-SRC-mtun1 -s 10.2.0.0/16 -j RETURN',
        '-A MESHCTL-SRC-mtun1 -s 192.168.20.0/24 -j RETURN',
        '-A MESHCTL-SRC-mtun1 -s 172.19.0.6/32 -j RETURN',
        '-A MESHCTL-SRC-mtun1 -j DROP',
      ],
    );
    for (const [name, state] of states) {
      const lines = rules(state);
      for (const hook of ['INPUT', 'FORWARD']) {
        const chain = lines.filter((l) => l.startsWith(`-A MESHCTL-${hook} `));
        const firstAccept = chain.findIndex((l) => l.endsWith('-j ACCEPT'));
        for (const t of mesh.tunnels.get(name)!) {
          const jump = chain.indexOf(`-A MESHCTL-${hook} -i ${t.device} -j MESHCTL-SRC-${t.device}`);
          assert.ok(
            jump >= 0 && jump < firstAccept,
            `${name} ${hook}: source check of ${t.device} must come first`,
          );
        }
      }
    }
  });

  it('forwards between the local subnets and each peer’s subnets, in both directions, on that tunnel only', () => {
    const branch = rules(states.get('branch')!);
    const forward = branch.filter(
      (l) => l.startsWith('-A MESHCTL-FORWARD ') && /-s \S+ -d \S+ -j ACCEPT$/.test(l),
    );
    assert.deepEqual(forward.sort(), [
      '-A MESHCTL-FORWARD -i mtun1 -s 10.1.0.0/16 -d 10.2.0.0/16 -j ACCEPT',
      '-A MESHCTL-FORWARD -i mtun1 -s 10.1.0.0/16 -d 192.168.20.0/24 -j ACCEPT',
      '-A MESHCTL-FORWARD -i mtun5 -s 10.4.0.0/16 -d 10.2.0.0/16 -j ACCEPT',
      '-A MESHCTL-FORWARD -i mtun5 -s 10.4.0.0/16 -d 192.168.20.0/24 -j ACCEPT',
      '-A MESHCTL-FORWARD -o mtun1 -s 10.2.0.0/16 -d 10.1.0.0/16 -j ACCEPT',
      '-A MESHCTL-FORWARD -o mtun1 -s 192.168.20.0/24 -d 10.1.0.0/16 -j ACCEPT',
      '-A MESHCTL-FORWARD -o mtun5 -s 10.2.0.0/16 -d 10.4.0.0/16 -j ACCEPT',
      '-A MESHCTL-FORWARD -o mtun5 -s 192.168.20.0/24 -d 10.4.0.0/16 -j ACCEPT',
    ]);
    for (const device of ['mtun1', 'mtun5']) {
      for (const dir of ['-i', '-o']) {
        assert.ok(
          branch.includes(
            `-A MESHCTL-FORWARD ${dir} ${device} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`,
          ),
        );
      }
    }
  });

  it('the script restores with --noflush, adds jumps only when missing, and knows every chain it declares', () => {
    const state = states.get('head-office')!;
    const script = content(state, '/etc/meshctl/firewall.sh');
    assert.ok(script.startsWith('#!/bin/sh\n# managed by meshctl'));
    assert.match(script, /iptables-restore -w --noflush "\$rules"/);
    assert.match(
      script,
      /iptables -w -C "\$hook" -j "MESHCTL-\$hook" 2>\/dev\/null \|\| iptables -w -I "\$hook" 1 -j "MESHCTL-\$hook"/,
    );
    const declared = rules(state)
      .filter((l) => l.startsWith(':'))
      .map((l) => l.slice(1).split(' ')[0]);
    // the chains the script keeps are read from the rules file when it runs: run that line with the real sh
    const wantedLine = script.split('\n').find((l) => l.startsWith('wanted='));
    assert.ok(wantedLine, 'the script computes the chains it keeps');
    const dir = mkdtempSync(join(tmpdir(), 'meshctl-fw-'));
    try {
      writeFileSync(join(dir, 'iptables.rules'), content(state, '/etc/meshctl/iptables.rules'));
      const kept = execFileSync(
        'sh',
        ['-c', `rules="$1/iptables.rules"\n${wantedLine}\necho "$wanted"`, 'sh', dir],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(kept.trim(), declared.join(' '));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(declared, [
      'MESHCTL-INPUT',
      'MESHCTL-FORWARD',
      'MESHCTL-SRC-mtun1',
      'MESHCTL-SRC-mtun4',
    ]);
    assert.doesNotMatch(script, /iptables -w? ?-P|iptables -w -F (INPUT|FORWARD)/);
  });

  it('the boot unit applies the sysctl file and the firewall before the network, and the sysctl file forwards', () => {
    const state = states.get('cloud')!;
    const unit = content(state, '/etc/systemd/system/meshctl-firewall.service');
    for (const line of [
      'DefaultDependencies=no',
      'After=local-fs.target netfilter-persistent.service iptables.service firewalld.service ufw.service',
      'Wants=network-pre.target',
      'Type=oneshot',
      'RemainAfterExit=yes',
      'ExecStart=/sbin/sysctl -p /etc/sysctl.d/99-meshctl.conf',
      'ExecStart=/etc/meshctl/firewall.sh start',
      'ExecStop=/etc/meshctl/firewall.sh stop',
      'WantedBy=multi-user.target',
    ]) {
      assert.ok(unit.split('\n').includes(line), `unit lacks ${line}`);
    }
    assert.match(unit, /^Before=.*\bnetwork-pre\.target\b/m);
    assert.match(content(state, '/etc/sysctl.d/99-meshctl.conf'), /^net\.ipv4\.ip_forward = 1$/m);
  });

  it('every file carries the managed-by-meshctl header', () => {
    for (const [, state] of states) {
      for (const f of state.files.filter(
        (f) => !f.path.includes('/meshctl/') || f.path.startsWith('/etc/meshctl/'),
      )) {
        assert.match(f.content.split('\n').slice(0, 2).join('\n'), /# managed by meshctl/, f.path);
      }
    }
  });
});
