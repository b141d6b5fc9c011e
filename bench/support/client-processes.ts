/**
 * The browser stand-ins of the latency benches (`latency-clients.ts` in child processes) and how their reports
 * turn into latencies.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { ClientsReport } from './latency-clients';

const CLIENTS_PER_PROCESS = 125;

/** The browser stand-ins: child processes of up to CLIENTS_PER_PROCESS clients each. */
export class ClientProcesses {
  private constructor(readonly children: ChildProcess[]) {}

  static async start(url: string, clients: number, log: (line: string) => void): Promise<ClientProcesses> {
    const children: ChildProcess[] = [];
    for (let left = clients; left > 0; left -= CLIENTS_PER_PROCESS) {
      const child = fork(new URL('./latency-clients.ts', import.meta.url), {
        env: { ...process.env, URL: url, CLIENTS: String(Math.min(left, CLIENTS_PER_PROCESS)) },
        execArgv: ['--import', 'tsx'],
      });
      let errors = 0;
      child.on('message', (m: { type: string; message?: string }) => {
        if (m.type === 'error' && ++errors <= 3) log(`client error: ${m.message}`);
      });
      children.push(child);
    }
    await Promise.all(children.map((c) => nextMessage(c, 'started')));
    return new ClientProcesses(children);
  }

  /** Connects every client at once; resolves when each has its first snapshot (`at`: the last, wall clock). */
  async connect(): Promise<{ at: number; failed: number }> {
    const ready = this.children.map((c) => nextMessage<{ type: 'ready'; at: number; failed: number }>(c, 'ready'));
    for (const c of this.children) c.send('connect');
    const all = await Promise.all(ready);
    return { at: Math.max(...all.map((r) => r.at)), failed: all.reduce((n, r) => n + r.failed, 0) };
  }

  kill(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill();
  }
}

/** Each client's latency for each change = its arrival time of the set carrying it − the change's stamp. */
export function latencies(reports: ClientsReport[]) {
  const stampsOf = new Map<string, number[]>();
  for (const r of reports) for (const s of r.sets) stampsOf.set(s.id, s.stamps);
  let n = 0;
  let unmatched = 0;
  for (const r of reports) {
    for (const a of r.arrivals) {
      for (let i = 0; i < a.length; i += 2) {
        const stamps = stampsOf.get(a[i] as string);
        if (stamps) n += stamps.length;
        else unmatched++;
      }
    }
  }
  const all = new Float64Array(n);
  let k = 0;
  for (const r of reports) {
    for (const a of r.arrivals) {
      for (let i = 0; i < a.length; i += 2) {
        const t = a[i + 1] as number;
        for (const stamp of stampsOf.get(a[i] as string) ?? []) all[k++] = t - stamp;
      }
    }
  }
  all.sort();
  const q = (p: number) => all[Math.min(all.length - 1, Math.floor(p * all.length))] ?? NaN;
  return { count: n, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: all[all.length - 1] ?? NaN, unmatched };
}

export function nextMessage<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: T) => {
      if (m.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(m);
    };
    const onExit = (code: number | null) => reject(new Error(`client process exited (${code}) before '${type}'`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
