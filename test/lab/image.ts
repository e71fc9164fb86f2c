import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { machineMirror } from './mirror.js';
import { removeTree } from './mounts.js';
import { CACHE_ROOT } from './paths.js';
import { isAlive } from './process.js';
import { LabError, runOk } from './run.js';
import { DEFAULT_RELEASE, type Release } from './spec.js';

/**
 * The gateway base image: a Debian root tree built once with debootstrap and booted read-only by every gateway
 * (each gets its own overlay on top). Cached under CACHE_ROOT keyed by a hash of its recipe; built in a temporary
 * folder renamed into place at the end, so an interrupted build never leaves a half image behind a valid name.
 */

/** Bump when the tweaks below change: it changes the cache key, so old images are not reused. */
const RECIPE_VERSION = 4;

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
 * What `apt-get install openvpn` needs beyond a minbase system with BASE_PACKAGES, per release (read off each
 * suite's `Depends:` of openvpn; libc, libssl, liblz4, libcap-ng, libsystemd, debconf and iproute2 are in the base
 * already); served to the variant without OpenVPN from a local folder because the lab has no internet.
 * bullseye's 2.5 has no netlink code (no libnl); trixie and sid carry the 64-bit time_t rename (…t64).
 */
export const OPENVPN_PACKAGES: Record<Release, string[]> = {
  bullseye: ['openvpn', 'libpkcs11-helper1', 'liblzo2-2'],
  bookworm: ['openvpn', 'libpkcs11-helper1', 'liblzo2-2', 'libnl-3-200', 'libnl-genl-3-200'],
  trixie: ['openvpn', 'libpkcs11-helper1t64', 'liblzo2-2', 'libnl-3-200', 'libnl-genl-3-200'],
  sid: ['openvpn', 'libpkcs11-helper1t64', 'liblzo2-2', 'libnl-3-200', 'libnl-genl-3-200'],
};

/**
 * FRR (`routing: bgp`): the package and its reload tool (frr-reload.py, what `systemctl reload frr` runs; only a
 * Recommends of frr, which debootstrap does not follow). Every release has both: bullseye 7.5, bookworm 8.4,
 * trixie 10.3, sid 10.7. In the full image frr.service is disabled, so a gateway of a static mesh runs no zebra.
 */
export const FRR_PACKAGES = ['frr', 'frr-pythontools'] as const;

/**
 * What the local package folder serves beyond OpenVPN: FRR. Only the two packages: the image without FRR is the
 * full image with these two purged, so their dependencies (libyang, c-ares, python3, logrotate, …) stay in it.
 */
const REPO_FRR_PACKAGES: readonly string[] = FRR_PACKAGES;

/** Bump when the way the local package folder is made changes. */
const REPO_VERSION = 3;

/** Where the local package folder is bound inside a gateway of an image without OpenVPN or without FRR. */
export const REPO_MOUNT = '/srv/repo';

export interface ImageVariant {
  openvpn: boolean;
  /** Default true. False: the full image with frr and frr-pythontools purged. */
  frr?: boolean;
  /** Default bookworm. */
  release?: Release;
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

function releaseOf(variant: ImageVariant): Release {
  return variant.release ?? DEFAULT_RELEASE;
}

function hasFrr(variant: ImageVariant): boolean {
  return variant.frr ?? true;
}

/** The packages purged from the full image to make the variant; empty for the full image. */
function purgedOf(variant: ImageVariant): string[] {
  return [...(variant.openvpn ? [] : ['openvpn']), ...(hasFrr(variant) ? [] : FRR_PACKAGES)];
}

/** True when the variant lacks a package the local package folder serves: it is then apt's only source. */
export function needsRepo(variant: ImageVariant): boolean {
  return purgedOf(variant).length > 0;
}

function imageRecipe(variant: ImageVariant) {
  const purged = purgedOf(variant);
  return {
    version: RECIPE_VERSION,
    suite: releaseOf(variant),
    packages: [...BASE_PACKAGES, 'openvpn', ...FRR_PACKAGES],
    disabled: ['frr.service'],
    // the variants are the full image with packages purged (seconds, not a second debootstrap)
    ...(purged.length > 0 ? { purged } : {}),
  };
}

/** The cache path of an image variant (it may not exist yet). */
export function imagePath(variant: ImageVariant): string {
  const release = releaseOf(variant);
  // bookworm keeps the names it had before there were other releases
  const name =
    `gateway${release === DEFAULT_RELEASE ? '' : `-${release}`}` +
    `${variant.openvpn ? '' : '-without-openvpn'}${hasFrr(variant) ? '' : '-without-frr'}`;
  return join(CACHE_ROOT, 'images', `${name}-${recipeKey(imageRecipe(variant))}`);
}

/** What a release's local package folder holds: OpenVPN with its libraries, then FRR. */
export function repoPackages(release: Release): string[] {
  return [...OPENVPN_PACKAGES[release], ...REPO_FRR_PACKAGES];
}

function repoRecipe(release: Release) {
  return { version: REPO_VERSION, suite: release, packages: repoPackages(release) };
}

/** The cache path of a release's local package folder (it may not exist yet). */
export function repoPath(release: Release = DEFAULT_RELEASE): string {
  return join(CACHE_ROOT, `repo-${release}-${recipeKey(repoRecipe(release))}`);
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
    if (needsRepo(variant)) await deriveByPurging(tmp, variant, log);
    else await bootstrapFull(tmp, releaseOf(variant), log);
    tweakImage(tmp, variant);
    try {
      renameSync(tmp, final);
    } catch (error) {
      // another build of the same recipe finished first: use it
      if (!existsSync(final)) throw error;
      await removeTree(tmp);
      return { path: final, built: false, seconds: (performance.now() - started) / 1000 };
    }
  } catch (error) {
    await removeTree(tmp);
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  const record: BuildRecord = { seconds, at: new Date().toISOString() };
  writeFileSync(`${final}.build.json`, `${JSON.stringify(record)}\n`);
  log(`image ready in ${seconds.toFixed(1)} s: ${final}`);
  return { path: final, built: true, seconds };
}

/** How long the cached image took to build, written next to it when it was built (the benchmark reads it). */
export interface BuildRecord {
  seconds: number;
  /** ISO date of the build. */
  at: string;
}

/** The build record of a cached image; undefined for an image built before records were kept. */
export function buildRecord(variant: ImageVariant): BuildRecord | undefined {
  try {
    return JSON.parse(readFileSync(`${imagePath(variant)}.build.json`, 'utf8')) as BuildRecord;
  } catch {
    return undefined;
  }
}

/** The full image: debootstrap with every package, OpenVPN and FRR included; frr.service disabled. */
async function bootstrapFull(tmp: string, release: Release, log: Log): Promise<void> {
  // one package cache for every release: a .deb's file name carries its version
  const debs = join(CACHE_ROOT, 'debs');
  mkdirSync(debs, { recursive: true });
  const mirror = machineMirror(release);
  const recipe = imageRecipe({ openvpn: true, release });
  log(`building the ${release} gateway image (with OpenVPN and FRR) with debootstrap from ${mirror}`);
  await runOk(
    [
      'debootstrap',
      '--variant=minbase',
      `--include=${recipe.packages.join(',')}`,
      `--cache-dir=${debs}`,
      release,
      tmp,
      mirror,
    ],
    {
      fix: `check that ${mirror} is reachable (or set MESHCTL_LAB_MIRROR) and that debootstrap is installed`,
    },
  );
  // FRR's postinst enables frr.service: a gateway of a static mesh must not run zebra; meshctl enables it for bgp.
  // systemctl works offline in a chroot for enable/disable (it only edits the unit symlinks).
  for (const unit of recipe.disabled) {
    await runOk(['chroot', tmp, 'systemctl', 'disable', '--quiet', unit], {
      fix: `check that the ${release} image has ${unit}`,
    });
  }
}

/**
 * An image without OpenVPN and/or FRR: a copy of the full image with those packages purged (seconds, not
 * minutes). Their dependencies stay, so the local package folder needs only the purged packages themselves.
 */
async function deriveByPurging(tmp: string, variant: ImageVariant, log: Log): Promise<void> {
  const release = releaseOf(variant);
  const purged = purgedOf(variant);
  const full = await ensureImage({ openvpn: true, frr: true, release }, log);
  log(`deriving the ${release} gateway image without ${purged.join(', ')} (copy, then dpkg --purge)`);
  await runOk(['cp', '-a', '--reflink=auto', full.path, tmp], { fix: 'check the free space of the cache' });
  // no maintainer script may start or stop a service from inside the copy
  const policy = join(tmp, 'usr/sbin/policy-rc.d');
  writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
  await runOk(['chroot', tmp, 'dpkg', '--purge', ...purged], {
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
  if (needsRepo(variant)) {
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
 * A release's local package folder: OpenVPN and what it needs beyond the image, and frr with frr-pythontools,
 * downloaded from that release's suite on the machine's mirror (with apt's lists kept in a private folder: the
 * machine's own apt configuration and package lists are neither used nor touched), and indexed with
 * dpkg-scanpackages.
 */
export async function ensureRepo(
  release: Release = DEFAULT_RELEASE,
  log: Log = () => {},
): Promise<CacheResult> {
  const started = performance.now();
  const final = repoPath(release);
  if (existsSync(final)) return { path: final, built: false, seconds: 0 };
  mkdirSync(CACHE_ROOT, { recursive: true });
  await removeAbandonedBuilds(CACHE_ROOT);
  const tmp = join(CACHE_ROOT, `.tmp-${process.pid}-${Date.now()}`);
  mkdirSync(tmp, { recursive: true, mode: 0o755 });
  const packages = repoPackages(release);
  const mirror = machineMirror(release);
  log(`downloading ${release}'s ${packages.join(' ')} from ${mirror} into the local package folder`);
  try {
    const apt = privateApt(join(tmp, '.apt'), mirror, release);
    const fix = `check that ${mirror} serves ${release} (or set MESHCTL_LAB_MIRROR)`;
    await runOk(['apt-get', '-q', ...apt, 'update'], { fix });
    await runOk(['apt-get', '-q', ...apt, 'download', ...packages], { cwd: tmp, fix });
    await removeTree(join(tmp, '.apt'));
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
    throw new LabError(`building the ${release} local package folder failed: ${(error as Error).message}`);
  }
  const seconds = (performance.now() - started) / 1000;
  log(`${release} local package folder ready in ${seconds.toFixed(1)} s: ${final}`);
  return { path: final, built: true, seconds };
}

/** apt options for a throw-away apt state under `dir` whose only source is `SUITE main` on `mirror`. */
function privateApt(dir: string, mirror: string, suite: Release): string[] {
  mkdirSync(join(dir, 'lists/partial'), { recursive: true });
  mkdirSync(join(dir, 'cache/archives/partial'), { recursive: true });
  writeFileSync(join(dir, 'sources.list'), `deb ${mirror} ${suite} main\n`);
  writeFileSync(join(dir, 'status'), '');
  return [
    '-o',
    `Dir::Etc::SourceList=${join(dir, 'sources.list')}`,
    '-o',
    `Dir::Etc::SourceParts=${join(dir, 'sources.list.d')}`,
    '-o',
    `Dir::State::Lists=${join(dir, 'lists')}`,
    '-o',
    `Dir::State::Status=${join(dir, 'status')}`,
    '-o',
    `Dir::Cache=${join(dir, 'cache')}`,
  ];
}

/** Temporary build folders whose builder process is gone (interrupted, killed): unmount and delete them. */
async function removeAbandonedBuilds(parent: string): Promise<void> {
  for (const entry of readdirSync(parent)) {
    const match = /^\.tmp-(\d+)-\d+$/.exec(entry);
    if (match && !isAlive(Number(match[1]))) await removeTree(join(parent, entry));
  }
}
