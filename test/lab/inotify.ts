import { readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';

/**
 * The kernel's inotify limits are per user, and every gateway's systemd (PID 1, logind, dbus, …) runs as the
 * machine's root: at the default fs.inotify.max_user_instances of 128 a lab of about 18 gateways exhausts it, and
 * the gateways booted last never get sshd up. Before gateways boot, the lab raises the limits when they are too
 * low for what is already in use plus the gateways to come, and says what it changed. It never lowers them, and
 * leaves them raised at teardown (another lab may be running on them).
 */

const LIMITS = '/proc/sys/fs/inotify';

/** Measured on a booted bookworm gateway: 7 instances at rest (systemd 5, logind, dbus); the rest is headroom. */
export const INSTANCES_PER_GATEWAY = 16;
/** A gateway's systemd watches a few hundred paths; generous, since a watch costs about 1 KiB of kernel memory. */
export const WATCHES_PER_GATEWAY = 2048;

/** inotify instances open on the machine now (every process's fds that are inotify instances). */
export function inotifyInstancesInUse(): number {
  let count = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited meanwhile
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === 'anon_inode:inotify') count++;
      } catch {
        // closed meanwhile
      }
    }
  }
  return count;
}

function readLimit(name: string): number {
  return Number(readFileSync(`${LIMITS}/${name}`, 'utf8').trim());
}

export interface InotifyChange {
  name: string;
  from: number;
  to: number;
}

/** The limits to raise, and to what, for `gateways` more gateways (pure, for the unit tests). */
export function inotifyChanges(
  gateways: number,
  current: { instances: number; watches: number; instancesInUse: number },
): InotifyChange[] {
  const changes: InotifyChange[] = [];
  const instances = current.instancesInUse + gateways * INSTANCES_PER_GATEWAY;
  if (current.instances < instances) {
    // a round number, so that the next labs of similar size find it high enough
    changes.push({
      name: 'max_user_instances',
      from: current.instances,
      to: Math.ceil(instances / 128) * 128,
    });
  }
  const watches = gateways * WATCHES_PER_GATEWAY;
  if (current.watches < watches) {
    changes.push({ name: 'max_user_watches', from: current.watches, to: Math.ceil(watches / 8192) * 8192 });
  }
  return changes;
}

/** Raises the inotify limits when too low for `gateways` more gateways; logs each change. */
export function ensureInotifyLimits(gateways: number, log: (line: string) => void): InotifyChange[] {
  const changes = inotifyChanges(gateways, {
    instances: readLimit('max_user_instances'),
    watches: readLimit('max_user_watches'),
    instancesInUse: inotifyInstancesInUse(),
  });
  for (const change of changes) {
    writeFileSync(`${LIMITS}/${change.name}`, `${change.to}\n`);
    log(
      `lab: raised fs.inotify.${change.name} from ${change.from} to ${change.to} for ${gateways} gateway(s) ` +
        "(each gateway's systemd uses several inotify instances of the machine's root; left raised at teardown)",
    );
  }
  return changes;
}
