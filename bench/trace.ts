import type { Connection, Connector } from '../src/connection/types.js';

/**
 * A timeline of what meshctl does on each gateway, for the lab benchmarks: wraps the connector a command accepts
 * as `deps.connector` and records every connection and every remote command with its start and end (ms since the
 * process started). Nothing in meshctl changes: the kinds are told from the commands themselves.
 */

export type TraceKind =
  | 'connect'
  | 'probe'
  | 'converge'
  | 'start'
  | 'verify'
  | 'record'
  | 'addresses'
  | 'other';

export interface TraceEvent {
  gateway: string;
  /** Which connection to this gateway (0 = the first): add-lan connects once per rollout phase. */
  connection: number;
  kind: TraceKind;
  /** The command's first words (never its stdin, which may carry key material). */
  command: string;
  start: number;
  end: number;
}

/** What a remote command is, from its argv (and, for a script on stdin, what came before it on that connection). */
function kindOf(argv: string[], afterVerify: boolean): TraceKind {
  const words = argv.join(' ');
  if (argv.includes('meshctl-probe')) return 'probe';
  if (argv.includes('meshctl-wait-tunnels')) return 'verify';
  if (words.includes('ip -4 -o addr show')) return 'addresses';
  // the start of tunnels; a start of the firewall alone is part of converging (add-lan's new gateway)
  if (argv[0] === 'systemctl' && argv[1] === 'start' && argv.some((a) => a.startsWith('openvpn-server@')))
    return 'start';
  // after the tunnels were checked, a script is the manifest (or the drop of rollback copies before it)
  if (afterVerify) return 'record';
  return 'converge';
}

export function tracingConnector(inner: Connector, events: TraceEvent[]): Connector {
  const connections = new Map<string, number>();
  return async (opts) => {
    const connection = connections.get(opts.name) ?? 0;
    connections.set(opts.name, connection + 1);
    const start = performance.now();
    const conn = await inner(opts);
    events.push({
      gateway: opts.name,
      connection,
      kind: 'connect',
      command: '',
      start,
      end: performance.now(),
    });
    let afterVerify = false;
    const traced: Connection = {
      name: conn.name,
      host: conn.host,
      exec: async (argv, execOpts) => {
        const kind = kindOf(argv, afterVerify);
        if (kind === 'verify' || kind === 'start') afterVerify = true;
        const started = performance.now();
        try {
          return await conn.exec(argv, execOpts);
        } finally {
          const command = argv
            .slice(0, argv[0] === 'sh' && argv[1] === '-c' ? 4 : 3)
            .join(' ')
            .slice(0, 60);
          events.push({
            gateway: opts.name,
            connection,
            kind,
            command,
            start: started,
            end: performance.now(),
          });
        }
      },
      close: () => conn.close(),
    };
    return traced;
  };
}

/** The span [first start, last end] of the events that match, or null when none does. */
export function span(events: TraceEvent[], match: (e: TraceEvent) => boolean): [number, number] | null {
  const matching = events.filter(match);
  if (matching.length === 0) return null;
  return [Math.min(...matching.map((e) => e.start)), Math.max(...matching.map((e) => e.end))];
}
