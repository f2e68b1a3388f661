/**
 * The close codes the RPC server gives and reads, the same on both
 * transports (an SSE connection's `close` event carries them too). The
 * page's runtime (browser/client.js) knows the final ones by number.
 */
import { CloseCode } from '../websocket/close-codes.js'

/** A page that went away on purpose (a closed tab, a navigation): its session ends at once. */
export const PAGE_GONE: ReadonlySet<number> = new Set([CloseCode.NORMAL, CloseCode.GOING_AWAY])
/** A frame that is not the protocol, or a handshake out of place. */
export const POLICY_VIOLATION = CloseCode.POLICY_VIOLATION
/** A connection lost without a close (a stream that ended). */
export const ABNORMAL = CloseCode.ABNORMAL
/** This node shuts down: its pages reconnect, and resume on another node. */
export const SERVICE_RESTART = 1012
/** The session was resumed by another connection (the same page's newer one, maybe on another node). */
export const RESUMED_ELSEWHERE = 4001
