import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

/**
 * Network namespaces for integration tests. Everything here acts only on namespaces (and the veth pairs inside
 * them) that the test itself created, under a unique name prefix; deleting a namespace removes its links too.
 */

const execFileAsync = promisify(execFile);

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs argv and returns its exit code (never throws on non-zero, like a Connection's exec). */
export async function run(argv: string[], timeoutMs = 30_000): Promise<RunResult> {
  try {
    const { stdout, stderr } = await execFileAsync(argv[0]!, argv.slice(1), { timeout: timeoutMs });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof e.code === 'number' ? e.code : 1,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? e.message,
    };
  }
}

/** Runs argv and throws, with its stderr, unless it exits 0. */
export async function must(argv: string[]): Promise<string> {
  const result = await run(argv);
  if (result.code !== 0)
    throw new Error(`\`${argv.join(' ')}\` exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

export function inNs(ns: string, argv: string[]): string[] {
  return ['ip', 'netns', 'exec', ns, ...argv];
}

/** Why this machine cannot run the namespace tests, or undefined when it can. */
export function whyNoNamespaces(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  return undefined;
}

export function skipBanner(test: string, reason: string): void {
  const line = '!'.repeat(100);
  console.warn(
    `\n${line}\n!!! SKIPPED: ${test}\n!!! reason: ${reason}\n!!! run it as root on a machine with /dev/net/tun, openvpn, iproute2 and iptables\n${line}\n`,
  );
}

/** Two namespaces joined by one veth pair, each end with one address of a /24 that exists only between them. */
export class NamespacePair {
  readonly a: string;
  readonly b: string;
  private created: string[] = [];

  constructor(
    readonly prefix: string,
    readonly addressA: string,
    readonly addressB: string,
    readonly prefixLength = 24,
  ) {
    this.a = `${prefix}-a`;
    this.b = `${prefix}-b`;
  }

  async create(): Promise<void> {
    for (const ns of [this.a, this.b]) {
      await must(['ip', 'netns', 'add', ns]);
      this.created.push(ns);
      await must(inNs(ns, ['ip', 'link', 'set', 'lo', 'up']));
    }
    // veth names ≤ 15 chars; created directly inside the namespaces
    const vethA = `${this.prefix.slice(0, 12)}va`;
    const vethB = `${this.prefix.slice(0, 12)}vb`;
    await must([
      'ip',
      'link',
      'add',
      vethA,
      'netns',
      this.a,
      'type',
      'veth',
      'peer',
      'name',
      vethB,
      'netns',
      this.b,
    ]);
    await must(inNs(this.a, ['ip', 'addr', 'add', `${this.addressA}/${this.prefixLength}`, 'dev', vethA]));
    await must(inNs(this.b, ['ip', 'addr', 'add', `${this.addressB}/${this.prefixLength}`, 'dev', vethB]));
    await must(inNs(this.a, ['ip', 'link', 'set', vethA, 'up']));
    await must(inNs(this.b, ['ip', 'link', 'set', vethB, 'up']));
  }

  /** Deletes only the namespaces this object created (their links go with them). */
  async destroy(): Promise<void> {
    for (const ns of this.created.splice(0)) await run(['ip', 'netns', 'del', ns]);
  }
}
