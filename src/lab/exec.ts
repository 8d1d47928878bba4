import {execFile} from 'node:child_process';

/** A command that exited non-zero, timed out or could not start; carries what it printed. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    readonly command: string,
    readonly exitCode: number | string | null,
    readonly stdout: string,
    readonly stderr: string,
    options?: {cause?: unknown},
  ) {
    super(`${command} failed (${exitCode ?? 'no exit code'}): ${stderr.trim() || stdout.trim() || 'no output'}`, options);
  }
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Written to the command's stdin, then stdin is closed. */
  input?: string;
  timeoutMs?: number;
}

/** sbin folders are missing from PATH for non-login shells on Debian; the OVS daemons live there. */
export function pathWithSbin(path = process.env.PATH ?? ''): string {
  const parts = path.split(':').filter(Boolean);
  for (const extra of ['/usr/local/sbin', '/usr/sbin', '/sbin']) if (!parts.includes(extra)) parts.push(extra);
  return parts.join(':');
}

/** Runs a program (no shell) and resolves with its stdout; rejects with CommandError. */
export function run(file: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  const env = {...(options.env ?? process.env)};
  env.PATH = pathWithSbin(env.PATH);
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      args,
      {env, timeout: options.timeoutMs ?? 30_000, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8'},
      (error, stdout, stderr) => {
        if (error) {
          const code = (error as NodeJS.ErrnoException & {code?: number | string}).code ?? null;
          const why = error.killed ? 'timeout' : code;
          reject(new CommandError([file, ...args].join(' '), why, stdout, stderr, {cause: error}));
        } else {
          resolve(stdout);
        }
      },
    );
    // A child that dies before reading its stdin makes the write fail with EPIPE; the exit status tells the story.
    child.stdin?.on('error', () => {});
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Whether `file` is found on PATH (sbin folders included). */
export async function commandExists(file: string): Promise<boolean> {
  try {
    await run('sh', ['-c', 'command -v "$0"', file], {timeoutMs: 5_000});
    return true;
  } catch {
    return false;
  }
}

/** Polls `probe` until it resolves truthy or the deadline passes; never a fixed sleep beyond the poll step. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  {timeoutMs = 10_000, intervalMs = 20}: {timeoutMs?: number; intervalMs?: number} = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`, {cause: lastError});
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
