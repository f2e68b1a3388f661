/**
 * Periodic work shared by every connection with the same interval (SSE
 * keep-alive comments, WebSocket pings): one timer per distinct interval
 * instead of one per connection, so thousands of idle connections cost a set
 * entry each. A timer exists only while it has members.
 */
import { kHeartbeat } from './symbols.js'

/** Anything that can write a heartbeat. */
export interface HeartbeatTarget {
  [kHeartbeat] (): void
}

interface HeartbeatGroup {
  timer: NodeJS.Timeout
  members: Set<HeartbeatTarget>
}

const groups = new Map<number, HeartbeatGroup>()

/** Adds `target` to the heartbeat sent every `intervalMs`. */
export function addHeartbeat (intervalMs: number, target: HeartbeatTarget): void {
  let group = groups.get(intervalMs)
  if (group === undefined) {
    const members = new Set<HeartbeatTarget>()
    const timer = setInterval(beat, intervalMs, members)
    // A heartbeat alone must never keep the process alive.
    timer.unref()
    group = { timer, members }
    groups.set(intervalMs, group)
  }
  group.members.add(target)
}

/** Removes `target`; the interval's timer stops with its last member. */
export function deleteHeartbeat (intervalMs: number, target: HeartbeatTarget): void {
  const group = groups.get(intervalMs)
  if (group === undefined || !group.members.delete(target)) return
  if (group.members.size === 0) {
    clearInterval(group.timer)
    groups.delete(intervalMs)
  }
}

/** The heartbeat intervals in use, in ms (one timer each). */
export function heartbeatIntervals (): number[] {
  return [...groups.keys()]
}

/** How many heartbeat timers are running (one per distinct interval in use). */
export function heartbeatTimerCount (): number {
  return groups.size
}

function beat (members: Set<HeartbeatTarget>): void {
  for (const member of members) member[kHeartbeat]()
}
