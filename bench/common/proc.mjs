// A process's CPU time read from /proc, for the processes a bench cannot ask
// itself (the pages' process, redis-server).
import { readFileSync } from 'node:fs'

const TICK_US = 1e6 / 100

/** The CPU time (user + system, µs, in 10 ms ticks) of process `pid`, NaN if it cannot be read. */
export function processCpuUs (pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_US
  } catch {
    return NaN
  }
}
