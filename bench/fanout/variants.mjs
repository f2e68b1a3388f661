// The servers of bench/fanout (one process each, servers/<script>).
import { lookup } from '../common/variants.mjs'

export const VARIANTS = [
  { id: 'raw', label: 'node:http raw (pre-encoded Buffer)', short: 'node:http raw', script: 'raw.mjs' },
  { id: 'datastar-sdk', label: '@starfederation/datastar-sdk', short: 'datastar-sdk', script: 'datastar-sdk.mjs' },
  { id: 'fastify-sse', label: '@fastify/sse', short: '@fastify/sse', script: 'fastify-sse.mjs' },
  { id: 'better-sse', label: 'better-sse (channel)', short: 'better-sse', script: 'better-sse.mjs' },
  { id: 'fastify-datastar', label: 'fastify-datastar (registry)', short: 'fastify-datastar', script: 'fastify-datastar.mjs', ours: true },
  { id: 'fastify-datastar-coalesce0', label: 'fastify-datastar (registry, coalesce 0: one write per turn)', short: 'fastify-datastar coalesce 0', script: 'fastify-datastar.mjs', env: { FANOUT_COALESCE: '0' }, ours: true, coalesce: true },
  { id: 'fastify-datastar-coalesce', label: 'fastify-datastar (registry, coalesce 2 ms)', short: 'fastify-datastar coalesce 2 ms', script: 'fastify-datastar.mjs', env: { FANOUT_COALESCE: '2' }, ours: true, coalesce: true }
]

// Diagnostics, for the analysis, never compared against the targets; each runs in its phases
// only (unless named in --variants). raw-socket shows what writing pre-framed chunks to the
// socket saves over res.write; the idle ones split the memory gap between raw and
// fastify-datastar into Fastify's share, the stream's and the registry's.
export const DIAGNOSTICS = [
  { id: 'raw-socket', label: 'diagnostic: node:http head, then pre-framed chunks written to the socket', short: 'diag: raw socket writes', script: 'raw-socket.mjs', diagnostic: true, phases: ['fanout'] },
  { id: 'fastify-hijack', label: 'diagnostic: Fastify, hijacked reply, raw writes', short: 'diag: Fastify hijack', script: 'fastify-hijack.mjs', diagnostic: true, phases: ['idle'] },
  { id: 'fastify-datastar-streams', label: 'diagnostic: fastify-datastar streams in a Set, no registry', short: 'diag: streams, no registry', script: 'fastify-datastar.mjs', env: { FANOUT_NO_REGISTRY: '1' }, diagnostic: true, phases: ['idle'] }
]

/** The variant of an id. */
export const variantById = lookup(VARIANTS, DIAGNOSTICS)
