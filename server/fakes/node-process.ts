/**
 * A feed server as operators run it: `server/main.ts` in a process of its
 * own, for tests that kill it (SIGKILL) the way a machine dies.
 */
import { type ChildProcess, spawn } from 'node:child_process';

export interface NodeProcess {
  child: ChildProcess;
  httpUrl: string;
  feedUrl: string;
  /** SIGKILL, and wait for the process to be gone (SIGTERM when profiling: the profile is written at exit). */
  kill(): Promise<void>;
}

/**
 * Starts `server/main.ts` with these flags (it listens on a free port) and resolves once it says where.
 * With `DESKBELL_NODE_PROF=<dir>` each node writes a CPU profile there (`node --cpu-prof`).
 */
export async function startNodeProcess(args: string[]): Promise<NodeProcess> {
  const prof = process.env.DESKBELL_NODE_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.DESKBELL_NODE_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', 'server/main.ts', '--port', '0', '--quiet', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const match = /feed server on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`the feed server exited with ${code}: ${err}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    httpUrl: `http://127.0.0.1:${port}`,
    feedUrl: `ws://127.0.0.1:${port}/feed`,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill(process.env.DESKBELL_NODE_PROF ? 'SIGTERM' : 'SIGKILL');
      await exited;
    },
  };
}
