import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { hierarchies } from './cgroup.js';

/** What the machine must offer before a lab can come up; each problem says how to fix it. */

const COMMANDS: [string, string][] = [
  ['systemd-nspawn', 'systemd-container'],
  ['debootstrap', 'debootstrap'],
  ['dpkg-scanpackages', 'dpkg-dev'],
  ['nsenter', 'util-linux'],
  ['unshare', 'util-linux'],
  ['ip', 'iproute2'],
  ['ssh', 'openssh-client'],
  ['ssh-keygen', 'openssh-client'],
  ['ping', 'iputils-ping'],
  ['bash', 'bash'],
];

export function onPath(command: string): boolean {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin']) {
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

export function prerequisiteProblems(): string[] {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) {
    problems.push('the lab needs root (namespaces, cgroups, systemd-nspawn): run it with sudo or as root');
    return problems;
  }
  const missing = COMMANDS.filter(([command]) => !onPath(command));
  if (missing.length > 0) {
    problems.push(
      `missing ${missing.map(([c]) => c).join(', ')} (packages ${[...new Set(missing.map(([, p]) => p))].join(' ')}): ` +
        'run test/lab/install-deps.sh',
    );
  }
  if (hierarchies().length === 0) {
    problems.push(
      'no usable cgroup hierarchy under /sys/fs/cgroup: the lab needs cgroup v2 or the name=systemd v1 one',
    );
  }
  return problems;
}
