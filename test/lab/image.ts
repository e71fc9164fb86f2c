import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineMirror } from './mirror.js';
import { removeTree } from './mounts.js';
import { CACHE_ROOT } from './paths.js';
import { isAlive } from './process.js';
import { LabError, run, runOk } from './run.js';

/**
 * The gateway base image: a Debian root tree built once with debootstrap and booted read-only by every gateway
 * (each gets its own overlay on top). Cached under CACHE_ROOT keyed by a hash of its recipe; built in a temporary
 * folder renamed into place at the end, so an interrupted build never leaves a half image behind a valid name.
 */

const SUITE = 'bookworm';

/** Bump when the tweaks below change: it changes the cache key, so old images are not reused. */
const RECIPE_VERSION = 3;

const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'dbus',
  'openssh-server',
  'sudo',
  'iptables',
  'iproute2',
  'iputils-ping',
  'procps',
  'ca-certificates',
];

/**
 * What `apt-get install openvpn` needs on top of the image without it; served to that variant from a local
 * folder because the lab has no internet.
 */
export const OPENVPN_PACKAGES = [
  'openvpn',
  'libpkcs11-helper1',
  'liblzo2-2',
  'libnl-3-200',
  'libnl-genl-3-200',
];

/** Where the local package folder is bound inside a gateway of the image without OpenVPN. */
export const REPO_MOUNT = '/srv/repo';

export interface ImageVariant {
  openvpn: boolean;
}

export interface CacheResult {
  path: string;
  /** False when the cached copy was used. */
  built: boolean;
  seconds: number;
}

type Log = (line: string) => void;

function recipeKey(recipe: unknown): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16);
}

function imageRecipe(variant: ImageVariant) {
  return {
    version: RECIPE_VERSION,
    suite: SUITE,
    packages: [...BASE_PACKAGES, 'openvpn'],
    // the image without OpenVPN is the full image with the openvpn package purged (seconds, not a second debootstrap)
    ...(variant.openvpn ? {} : { purged: ['openvpn'] }),
  };
}

/** The cache path of an image variant (it may not exist yet). */
export function imagePath(variant: ImageVariant): string {
  const name = variant.openvpn ? 'gateway' : 'gateway-without-openvpn';
  return join(CACHE_ROOT, 'images', `${name}-${recipeKey(imageRecipe(variant))}`);
}

/** The cache path of the local package folder (it may not exist yet). */
export function repoPath(): string {
  return join(CACHE_ROOT, `repo-${recipeKey({ suite: SUITE, packages: OPENVPN_PACKAGES })}`);
}

/** Builds the image unless the cached copy exists. Safe to run twice at once: the first rename wins. */
export async function ensureImage(variant: ImageVariant, log: Log = () => {}): Promise<CacheResult> {
  const started = performance.now();
  const final = imagePath(variant);
  if (existsSync(final)) return { path: final, built: false, seconds: (performance.now() - started) / 1000 };
  const parent = join(CACHE_ROOT, 'images');
  mkdirSync(parent, { recursive: true });
  await removeAbandonedBuilds(parent);
  const tmp = join(parent, `.tmp-${process.pid}-${Date.now()}`);
  try {
    if (variant.openvpn) await bootstrapFull(tmp, log);
    else await deriveWithoutOpenvpn(tmp, log);
    tweakImage(tmp, variant);
    try {
      renameSync(tmp, final);
    } catch (error) {
      // another build of the same recipe finished first: use it
      if (!existsSync(final)) throw error;
      await removeTree(tmp);
    }
  } catch (error) {
    await removeTree(tmp);
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  log(`image ready in ${seconds.toFixed(1)} s: ${final}`);
  return { path: final, built: true, seconds };
}

/** The full image: debootstrap with every package, OpenVPN included. */
async function bootstrapFull(tmp: string, log: Log): Promise<void> {
  const debs = join(CACHE_ROOT, 'debs');
  mkdirSync(debs, { recursive: true });
  const mirror = machineMirror(SUITE);
  const recipe = imageRecipe({ openvpn: true });
  log(`building the gateway image (with OpenVPN) with debootstrap from ${mirror}`);
  await runOk(
    [
      'debootstrap',
      '--variant=minbase',
      `--include=${recipe.packages.join(',')}`,
      `--cache-dir=${debs}`,
      SUITE,
      tmp,
      mirror,
    ],
    {
      fix: `check that ${mirror} is reachable (or set MESHCTL_LAB_MIRROR) and that debootstrap is installed`,
    },
  );
}

/** The image without OpenVPN: a copy of the full image with the openvpn package purged (seconds, not minutes). */
async function deriveWithoutOpenvpn(tmp: string, log: Log): Promise<void> {
  const full = await ensureImage({ openvpn: true }, log);
  log('deriving the gateway image without OpenVPN (copy, then dpkg --purge openvpn)');
  await runOk(['cp', '-a', '--reflink=auto', full.path, tmp], { fix: 'check the free space of the cache' });
  // no maintainer script may start or stop a service from inside the copy
  const policy = join(tmp, 'usr/sbin/policy-rc.d');
  writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  await runOk(['chroot', tmp, 'dpkg', '--purge', 'openvpn'], {
    fix: 'rebuild the full image: remove the cache',
  });
  rmSync(policy);
}

/** The LAB.md tweaks that make one tree bootable as many distinct hosts. */
function tweakImage(root: string, variant: ImageVariant): void {
  const at = (path: string) => join(root, path);
  rmSync(at('etc/hostname'), { force: true });
  for (const entry of readdirSync(at('etc/ssh'))) {
    if (entry.startsWith('ssh_host_')) rmSync(at(`etc/ssh/${entry}`));
  }
  // an empty machine-id makes systemd generate one per boot: otherwise every host shares the image's id
  writeFileSync(at('etc/machine-id'), '');
  mkdirSync(at('var/lib/dbus'), { recursive: true });
  rmSync(at('var/lib/dbus/machine-id'), { force: true });
  symlinkSync('/etc/machine-id', at('var/lib/dbus/machine-id'));
  // mount points of the per-host files bound read-only at boot
  mkdirSync(at('root/.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(at('root/.ssh/authorized_keys'), '', { mode: 0o600 });
  writeFileSync(at('etc/ssh/ssh_host_ed25519_key'), '', { mode: 0o600 });
  mkdirSync(at('etc/ssh/sshd_config.d'), { recursive: true });
  writeFileSync(at('etc/ssh/sshd_config.d/meshctl-lab.conf'), '');
  // periodic jobs only add noise (and CPU) to tests
  const units = at('etc/systemd/system');
  for (const dir of ['lib/systemd/system', 'usr/lib/systemd/system']) {
    if (!existsSync(at(dir))) continue;
    for (const unit of readdirSync(at(dir))) {
      if (unit.endsWith('.timer') && !existsSync(join(units, unit)))
        symlinkSync('/dev/null', join(units, unit));
    }
  }
  // a host that is asked to stop should stop quickly
  mkdirSync(at('etc/systemd/system.conf.d'), { recursive: true });
  writeFileSync(at('etc/systemd/system.conf.d/meshctl-lab.conf'), '[Manager]\nDefaultTimeoutStopSec=5s\n');
  if (!variant.openvpn) {
    // the lab has no internet: apt's only source is the local folder bound at REPO_MOUNT
    mkdirSync(at(REPO_MOUNT.slice(1)), { recursive: true });
    writeFileSync(at('etc/apt/sources.list'), `deb [trusted=yes] file:${REPO_MOUNT} ./\n`);
    for (const entry of existsSync(at('etc/apt/sources.list.d'))
      ? readdirSync(at('etc/apt/sources.list.d'))
      : []) {
      rmSync(at(`etc/apt/sources.list.d/${entry}`), { force: true });
    }
  }
}

/**
 * The local package folder: OpenVPN and what it needs beyond the image, downloaded with the machine's apt and
 * indexed with dpkg-scanpackages.
 */
export async function ensureRepo(log: Log = () => {}): Promise<CacheResult> {
  const started = performance.now();
  const final = repoPath();
  if (existsSync(final)) return { path: final, built: false, seconds: 0 };
  mkdirSync(CACHE_ROOT, { recursive: true });
  await removeAbandonedBuilds(CACHE_ROOT);
  const tmp = join(CACHE_ROOT, `.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true, mode: 0o755 });
  log(`downloading ${OPENVPN_PACKAGES.join(' ')} into the local package folder`);
  try {
    const download = ['apt-get', 'download', ...OPENVPN_PACKAGES];
    const first = await run(download, { cwd: tmp });
    if (first.code !== 0) {
      // the machine's package lists may be missing or stale
      await runOk(['apt-get', 'update'], { fix: "check the machine's apt sources" });
      await runOk(download, { cwd: tmp, fix: "check the machine's apt sources" });
    }
    const index = await runOk(['dpkg-scanpackages', '-m', '.'], {
      cwd: tmp,
      fix: 'install dpkg-dev (test/lab/install-deps.sh does)',
    });
    writeFileSync(join(tmp, 'Packages'), index.stdout, { mode: 0o644 });
    try {
      renameSync(tmp, final);
    } catch (error) {
      if (!existsSync(final)) throw error;
      await removeTree(tmp);
    }
  } catch (error) {
    await removeTree(tmp);
    if (error instanceof LabError) throw error;
    throw new LabError(`building the local package folder failed: ${(error as Error).message}`);
  }
  const seconds = (performance.now() - started) / 1000;
  log(`local package folder ready in ${seconds.toFixed(1)} s: ${final}`);
  return { path: final, built: true, seconds };
}

/** Temporary build folders whose builder process is gone (interrupted, killed): unmount and delete them. */
async function removeAbandonedBuilds(parent: string): Promise<void> {
  for (const entry of readdirSync(parent)) {
    const match = /^\.tmp-(\d+)-\d+$/.exec(entry);
    if (match && !isAlive(Number(match[1]))) await removeTree(join(parent, entry));
  }
}
