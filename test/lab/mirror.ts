import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LabError } from './run.js';

/**
 * The Debian mirror the image is bootstrapped from, taken from the machine's own apt configuration so the lab
 * uses whatever mirror (or proxy, or snapshot) the machine is already set up for.
 */

export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
}

/** Parses one-line `deb URI SUITE COMPONENT...` entries (sources.list format). Pure. */
export function parseSourcesList(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line.startsWith('deb ')) continue;
    // drop the optional [options] block
    const words = line
      .replace(/\[[^\]]*\]/, ' ')
      .split(/\s+/)
      .filter(Boolean);
    const [, uri, suite, ...components] = words;
    if (uri && suite) sources.push({ uri, suites: [suite], components });
  }
  return sources;
}

/** Parses deb822 stanzas (`.sources` format). Pure. */
export function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#')) continue;
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match) fields.set(match[1]!.toLowerCase(), match[2]!.trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const suites = (fields.get('suites') ?? '').split(/\s+/).filter(Boolean);
    const components = (fields.get('components') ?? '').split(/\s+/).filter(Boolean);
    for (const uri of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) {
      sources.push({ uri, suites, components });
    }
  }
  return sources;
}

/**
 * The best mirror for `suite`: an entry carrying exactly that suite's main component; failing that, any entry of
 * a plain Debian suite with main (same archive layout). Pure.
 */
export function pickMirror(sources: AptSource[], suite: string): string | undefined {
  const withMain = sources.filter((s) => s.components.includes('main'));
  const exact = withMain.find((s) => s.suites.includes(suite));
  if (exact) return exact.uri;
  return withMain.find((s) => s.suites.some((x) => /^[a-z]+$/.test(x)) && !/security/.test(s.uri))?.uri;
}

/** Reads /etc/apt/sources.list and sources.list.d/*.{list,sources} and picks the mirror for `suite`. */
export function machineMirror(suite: string, aptDir = '/etc/apt'): string {
  const override = process.env.MESHCTL_LAB_MIRROR;
  if (override) return override;
  const sources: AptSource[] = [];
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  sources.push(...parseSourcesList(read(join(aptDir, 'sources.list'))));
  let entries: string[] = [];
  try {
    entries = readdirSync(join(aptDir, 'sources.list.d')).sort();
  } catch {
    entries = [];
  }
  for (const entry of entries) {
    const path = join(aptDir, 'sources.list.d', entry);
    if (entry.endsWith('.list')) sources.push(...parseSourcesList(read(path)));
    else if (entry.endsWith('.sources')) sources.push(...parseDeb822(read(path)));
  }
  const mirror = pickMirror(sources, suite);
  if (!mirror) {
    throw new LabError(
      `no Debian mirror with suite '${suite}' and component 'main' found in ${aptDir}/sources.list or ` +
        `${aptDir}/sources.list.d/; add one there or set MESHCTL_LAB_MIRROR to a Debian mirror URL`,
    );
  }
  return mirror;
}
