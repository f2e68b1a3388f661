// The processes of a bench run: each server variant and the load generator are
// node child processes of run.mjs, spoken to over IPC, started through `sh` to
// raise their open-files limit first (and through `taskset` when pinned).
import { spawn, spawnSync } from 'node:child_process'
import path from 'node:path'
import process from 'node:process'

/** Whether `taskset` works here (CPU pinning). */
export function hasTaskset () {
  try {
    return spawnSync('taskset', ['-p', String(process.pid)]).status === 0
  } catch {
    return false
  }
}

/**
 * The open-files limit to give each process: at least `needed` (one
 * descriptor per connection, plus a margin), 20 000 if the hard limit allows.
 * `sh -c 'ulimit -n …'` can raise the soft limit up to the hard one only, so
 * this throws at once if the hard limit is below `needed`.
 */
export function fileLimit (needed) {
  const result = spawnSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' })
  const value = result.stdout.trim()
  const hard = value === 'unlimited' ? Infinity : Number(value)
  if (!(hard >= needed)) {
    throw new Error(`the hard limit of open files is ${hard}, the bench needs ${needed} per process (--idle / --n + 1024): ` +
      'raise it (`ulimit -Hn`, /etc/security/limits.conf, or LimitNOFILE= of the service) or lower --idle and --n')
  }
  return { fds: Number.isFinite(hard) ? Math.min(hard, Math.max(needed, 20_000)) : Math.max(needed, 20_000), hard }
}

/** A node child process spoken to over IPC, started through sh to raise its fd limit first. */
export class Child {
  /**
   * @param script the module to run (with --expose-gc)
   * @param options `cwd`; `env` added to this process's; `fds` its open-files limit; `cpu` a taskset CPU list;
   *   `quiet`: keep its stderr (for why()) without passing it through
   */
  constructor (script, { cwd, env = {}, fds = 1024, nodeArgs = [], cpu, quiet = false } = {}) {
    this.name = path.basename(script)
    this.inbox = []
    this.waiters = []
    this.exited = null
    // The last lines it wrote to stderr (passed through as well), to say why it failed.
    this.stderr = ''
    // `ulimit -n` up to what the hard limit allows, then exec node (same pid, same IPC channel),
    // through `taskset` when pinned to a CPU.
    const pin = cpu === undefined ? [] : ['taskset', '-c', String(cpu)]
    this.process = spawn('sh', ['-c', 'ulimit -n "$0" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"', String(fds), ...pin, process.execPath, '--expose-gc', ...nodeArgs, script], {
      cwd,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: { ...process.env, ...env }
    })
    this.process.stderr.on('data', (chunk) => {
      if (!quiet) process.stderr.write(chunk)
      this.stderr = (this.stderr + chunk.toString()).slice(-4000)
    })
    this.process.on('message', (message) => {
      const index = this.waiters.findIndex((waiter) => waiter.type === message.type || message.type === 'error')
      if (index === -1) {
        this.inbox.push(message)
        return
      }
      const [waiter] = this.waiters.splice(index, 1)
      waiter.settle(message)
    })
    this.process.on('exit', (code, signal) => {
      this.exited = { code, signal }
      for (const waiter of this.waiters.splice(0)) waiter.settle({ type: 'error', message: `${this.name} exited (${code ?? signal})` })
    })
  }

  /** The next message of `type`, within `timeoutMs`. */
  next (type, timeoutMs = 10_000) {
    const index = this.inbox.findIndex((message) => message.type === type)
    if (index !== -1) return Promise.resolve(this.inbox.splice(index, 1)[0])
    if (this.exited !== null) return Promise.reject(new Error(`${this.name} exited (${this.exited.code ?? this.exited.signal})`))
    return new Promise((resolve, reject) => {
      const waiter = {
        type,
        settle: (message) => {
          clearTimeout(timer)
          if (message.type === 'error') reject(new Error(`${this.name}: ${message.message}`))
          else resolve(message)
        }
      }
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1)
        reject(new Error(`${this.name}: no '${type}' within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiters.push(waiter)
    })
  }

  request (message, type, timeoutMs) {
    const reply = this.next(type, timeoutMs)
    this.process.send(message)
    return reply
  }

  /** Asks the process to close and exit; kills it (by its pid) if it does not within 10 s. */
  async stop () {
    if (this.exited !== null) return
    const exited = new Promise((resolve) => this.process.once('exit', resolve))
    try {
      this.process.send({ cmd: 'close' })
    } catch {}
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }

  /** The error the process printed last (its stderr's last non-empty lines), for a report. */
  why () {
    const lines = this.stderr.split('\n').map((line) => line.trim()).filter(Boolean)
    const error = lines.findLast((line) => /Error|error:/.test(line)) ?? lines.at(-1)
    return error ?? ''
  }
}
