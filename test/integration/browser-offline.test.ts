import assert from 'node:assert/strict';
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type OfflinePage, openOffline, skipUnlessBrowser } from '../helpers/browser.js';

/**
 * The browser helper's own proof that "no request was attempted" means something: a page that reaches out in
 * every way a page can (image, stylesheet, script, font, iframe, fetch, WebSocket, beacon, a file next to it)
 * has each attempt recorded and none delivered; with interception and offline mode turned back off, Chromium
 * still cannot reach a TCP server listening on this machine's loopback (network namespace and/or dead proxy).
 */

describe('browser: openOffline() records and blocks every request', function () {
  this.timeout(60_000);
  let work: string;
  let server: Server;
  let port: number;
  let connections = 0;

  before(async function () {
    skipUnlessBrowser(this);
    work = mkdtempSync(path.join(tmpdir(), 'meshctl-offline-'));
    server = createServer((socket) => {
      connections += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });

  after(async () => {
    if (server) await new Promise((resolve) => server.close(resolve));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('every kind of request a page makes is recorded and aborted; data: URLs load', async () => {
    const local = `http://127.0.0.1:${port}`;
    const file = path.join(work, 'leaky.html');
    writeFileSync(
      file,
      `<!doctype html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="https://example.com/style.css">
<style>@font-face { font-family: f; src: url(http://198.18.0.1/font.woff2); } body { font-family: f; }</style>
<script src="${local}/script.js"></script>
</head><body>text
<img src="http://198.18.0.2/image.png">
<img id="inline" src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7">
<img src="sibling.png">
<iframe src="https://example.org/"></iframe>
<script>
  fetch('${local}/fetch').catch(() => {});
  try { new WebSocket('ws://198.18.0.3/socket'); } catch {}
  navigator.sendBeacon('${local}/beacon', 'x');
</script>
</body></html>
`,
    );
    const opened = await openOffline(file, { width: 800, height: 600 });
    try {
      // some requests are sent after load: give them a moment
      await new Promise((resolve) => setTimeout(resolve, 500));
      const seen = opened.requests.map((url) => url.replace(/\/$/, ''));
      for (const url of [
        'https://example.com/style.css',
        `${local}/script.js`,
        'http://198.18.0.2/image.png',
        `file://${path.join(work, 'sibling.png')}`,
        'https://example.org',
        `${local}/fetch`,
        'ws://198.18.0.3/socket',
        `${local}/beacon`,
      ])
        assert.ok(seen.includes(url), `${url} recorded: ${JSON.stringify(seen)}`);
      assert.ok(!seen.some((url) => url.startsWith('data:')), 'data: URLs are allowed');
      assert.equal(await opened.page.$eval('#inline', (img) => (img as HTMLImageElement).naturalWidth), 1);
      assert.equal(connections, 0, 'nothing reached the listening server');
    } finally {
      await opened.close();
    }
  });

  it('without interception and offline mode, Chromium still reaches nothing on the loopback', async () => {
    const file = path.join(work, 'blank.html');
    writeFileSync(file, '<!doctype html><title>blank</title>');
    let opened: OfflinePage | undefined;
    try {
      opened = await openOffline(file, { width: 800, height: 600 });
      if (opened.isolation === 'netns') {
        const pid = opened.browser.process()?.pid;
        assert.ok(pid, 'the browser process is known');
        assert.notEqual(readlinkSync(`/proc/${pid}/ns/net`), readlinkSync('/proc/self/ns/net'));
      }
      await opened.page.setRequestInterception(false);
      await opened.page.setOfflineMode(false);
      // a top-level navigation: no CORS or private-network rule of the page's stands in the way
      const outcome = await opened.page
        .goto(`http://127.0.0.1:${port}/`, { timeout: 15_000 })
        .then((response) => `status ${response?.status()}`)
        .catch((error: Error) => `failed: ${error.message}`);
      console.log(`      navigation to the loopback (${opened.isolation}): ${outcome}`);
      assert.match(outcome, /^failed/);
      assert.equal(connections, 0, `the listening server was reached (${opened.isolation})`);
    } finally {
      await opened?.close();
    }
  });
});
