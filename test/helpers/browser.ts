import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { packageRoot } from '../../src/version.js';

/**
 * Real-browser tests of the HTML pages meshctl writes: Debian's Chromium (test/lab/install-browser.sh installs it),
 * driven headless by puppeteer-core, which never downloads a browser of its own. A page is opened offline, three
 * ways over:
 *   1. Chromium runs in a network namespace of its own (`unshare --net`, in a user namespace when not root): only
 *      a loopback, and that down, so the kernel has nowhere to send anything;
 *   2. flags that send every connection to a dead proxy, make every host name unresolvable and turn off
 *      Chromium's own background traffic (updates, safe browsing, translation, time queries, …);
 *   3. the page is put in DevTools' offline mode, and every request is intercepted: anything but the file itself
 *      or a data: URL is aborted and recorded, WebSockets too, so a test can assert that none was attempted.
 * Each launch has its own temporary profile and HOME (Chromium writes ~/.pki and ~/.cache), removed on close().
 */

/** Where screenshots go: a fixed directory at the repository root (ignored by git) that CI can keep. */
export const artifactDir = (): string => path.join(packageRoot(), 'test-artifacts');

/**
 * The browser binary, or undefined. Debian's /usr/bin/chromium is a shell wrapper that adds flags for a desktop
 * (extensions, Google API keys in the environment, GPU rasterization): the binary it starts is preferred.
 * CHROMIUM_PATH overrides the search.
 */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) return isExecutable(fromEnv) ? fromEnv : undefined;
  const onPath = (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter(Boolean)
    .map((dir) => path.join(dir, 'chromium'));
  return ['/usr/lib/chromium/chromium', ...onPath, '/usr/bin/chromium'].find(isExecutable);
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why the browser tests cannot run here, or undefined when they can. */
export function whyNoBrowser(): string | undefined {
  const binary = findChromium();
  if (!binary)
    return process.env.CHROMIUM_PATH
      ? `CHROMIUM_PATH=${process.env.CHROMIUM_PATH} is not an executable`
      : 'chromium is not installed (no /usr/lib/chromium/chromium, no chromium on PATH, no /usr/bin/chromium)';
  const version = spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  if (version.status !== 0) return `${binary} --version failed: ${(version.stderr || version.error) ?? ''}`;
  return undefined;
}

/**
 * Skips the calling suite LOUDLY (call it from a before hook) when there is no usable Chromium: the skipped
 * tests are listed and counted by test/run.js, never passed.
 */
export function skipUnlessBrowser(ctx: Mocha.Context): void {
  const reason = whyNoBrowser();
  if (!reason) return;
  const bar = '!'.repeat(100);
  const suite = ctx.currentTest?.parent ?? ctx.test?.parent;
  const titles = suite?.tests.map((t) => `!!   - ${t.title}`) ?? [];
  console.warn(
    `\n${bar}\n!! SKIPPED: ${suite?.title ?? 'browser tests'}\n!!   ${reason}\n` +
      `!! These ${titles.length} test(s) did NOT run and prove nothing:\n${titles.join('\n')}\n` +
      `!! Install Debian's chromium (as root: sh test/lab/install-browser.sh) or set CHROMIUM_PATH\n${bar}\n`,
  );
  ctx.skip();
}

/** The version line of the browser that openOffline() starts, e.g. "Chromium 156.0.8078.114". */
export function chromiumVersion(): string {
  const binary = findChromium();
  if (!binary) throw new Error(whyNoBrowser());
  return spawnSync(binary, ['--version'], { encoding: 'utf8' }).stdout.trim();
}

/**
 * The flags given to Chromium on top of puppeteer's own defaults (--headless=new, --disable-extensions,
 * --disable-sync, --no-first-run, …). Some repeat a default, so that they hold whatever puppeteer's list becomes.
 */
export const OFFLINE_FLAGS: readonly string[] = [
  // every connection (http, https, ws, ftp) goes to the discard port of a loopback that is down in the namespace
  '--proxy-server=http://127.0.0.1:9',
  // …loopback included: the default bypass list would let localhost through
  '--proxy-bypass-list=<-loopback>',
  // no host name resolves
  '--host-resolver-rules=MAP * ~NOTFOUND',
  // Chromium's own traffic
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--no-pings',
  '--disable-features=NetworkTimeServiceQuerying,AutofillServerCommunication,CertificateTransparencyComponentUpdater,MediaRouter,DialMediaRouteProvider,OptimizationHints,Translate,InterestFeedContentSuggestions,SafeBrowsingEnhancedProtection',
  '--safebrowsing-disable-auto-update',
  // WebRTC is not HTTP: keep it from gathering or contacting anything
  '--force-webrtc-ip-handling-policy=disable_non_proxied_udp',
  // one layout for every machine: no device scale, no GPU, no dependence on /dev/shm's size
  '--force-device-scale-factor=1',
  '--disable-gpu',
  '--disable-dev-shm-usage',
];

export interface OfflinePage {
  page: Page;
  browser: Browser;
  /** Every request the page attempted that was not the file itself or a data: URL (all of them aborted). */
  requests: string[];
  /** 'netns' when Chromium ran in a network namespace of its own, else 'flags' (layers 2 and 3 only). */
  isolation: 'netns' | 'flags';
  /** Chromium's own arguments, as launched. */
  args: readonly string[];
  /** Writes test-artifacts/NAME.png (the viewport) and returns its absolute path. */
  screenshot(name: string): Promise<string>;
  /** Closes the browser and removes its profile. */
  close(): Promise<void>;
}

let unshareArgs: string[] | null | undefined;
/**
 * How to start a program in a network namespace of its own: `unshare --net` as root, else in a user namespace
 * too (`--map-current-user`: the same uid inside, so Chromium's own sandbox still works); null when neither is
 * allowed here (no unshare, user namespaces disabled).
 */
function networkNamespaceArgs(): string[] | null {
  if (unshareArgs === undefined) {
    const args = process.getuid?.() === 0 ? ['--net'] : ['--map-current-user', '--net'];
    unshareArgs =
      isExecutable('/usr/bin/unshare') &&
      spawnSync('/usr/bin/unshare', [...args, '--', 'true'], { timeout: 10_000 }).status === 0
        ? args
        : null;
  }
  return unshareArgs;
}

/** Opens FILE (an HTML or SVG file) in headless Chromium with no network, at the viewport size given. */
export async function openOffline(
  file: string,
  opts: { width: number; height: number } = { width: 1280, height: 800 },
): Promise<OfflinePage> {
  const binary = findChromium();
  if (!binary) throw new Error(whyNoBrowser());
  const absolute = path.resolve(file);
  const fileUrl = pathToFileURL(absolute).href;
  const profile = mkdtempSync(path.join(tmpdir(), 'meshctl-chromium-'));
  const home = path.join(profile, 'home');
  const userDataDir = path.join(profile, 'profile');
  mkdirSync(home);

  const unshare = networkNamespaceArgs();
  const isolation = unshare ? 'netns' : 'flags';
  let executablePath = binary;
  if (unshare) {
    // the DevTools connection is a pipe (fds 3 and 4), which crosses into the namespace; exec keeps one PID
    executablePath = path.join(profile, 'chromium-netns');
    writeFileSync(
      executablePath,
      `#!/bin/sh\nexec /usr/bin/unshare ${unshare.join(' ')} -- ${shellQuote(binary)} "$@"\n`,
      { mode: 0o700 },
    );
  }
  const args = [
    ...OFFLINE_FLAGS,
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    `--window-size=${opts.width},${opts.height}`,
  ];

  let browser: Browser | undefined;
  const cleanup = async () => {
    try {
      await browser?.close();
    } finally {
      rmSync(profile, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
    }
  };
  try {
    browser = await puppeteer.launch({
      executablePath,
      headless: true,
      pipe: true,
      userDataDir,
      // a copy: puppeteer takes --disable-features out of the array it is given (to merge it with its own)
      args: [...args],
      env: {
        ...process.env,
        HOME: home,
        XDG_CONFIG_HOME: path.join(home, '.config'),
        XDG_CACHE_HOME: path.join(home, '.cache'),
      },
      defaultViewport: { width: opts.width, height: opts.height, deviceScaleFactor: 1 },
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
    });
    const [first] = await browser.pages();
    const page = first ?? (await browser.newPage());
    const requests: string[] = [];
    await page.setOfflineMode(true);
    await page.setRequestInterception(true);
    page.on('request', (request) => {
      const url = request.url();
      if (url === fileUrl || url.startsWith('data:')) {
        void request.continue();
      } else {
        requests.push(url);
        void request.abort('internetdisconnected');
      }
    });
    // WebSockets are not seen by request interception
    const cdp = await page.createCDPSession();
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketCreated', (event) => requests.push(event.url));

    await page.goto(fileUrl, { waitUntil: 'load', timeout: 30_000 });
    return {
      page,
      browser,
      requests,
      isolation,
      args,
      async screenshot(name: string) {
        const dir = artifactDir();
        mkdirSync(dir, { recursive: true });
        const target = path.join(dir, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
        await page.screenshot({ path: target as `${string}.png`, type: 'png' });
        return target;
      },
      close: cleanup,
    };
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Width and height from a PNG's IHDR, after checking its signature; throws when the file is not a PNG. */
export function pngSize(file: string): { width: number; height: number } {
  const bytes = readFileSync(file);
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (bytes.length < 33 || !bytes.subarray(0, 8).equals(signature))
    throw new Error(`${file} is not a PNG (bad signature)`);
  if (bytes.toString('latin1', 12, 16) !== 'IHDR') throw new Error(`${file} is not a PNG (no IHDR first)`);
  // the last chunk of every PNG
  if (bytes.toString('latin1', bytes.length - 8, bytes.length - 4) !== 'IEND')
    throw new Error(`${file} is truncated (no IEND at the end)`);
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}
