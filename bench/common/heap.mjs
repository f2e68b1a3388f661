// Where a server's idle memory goes: two V8 heap snapshots (before and after n
// idle connections) compared by object type and constructor.
import { readFile } from 'node:fs/promises'

/** Self bytes and object count per `type: name` key of a .heapsnapshot. */
async function totals (file, { closures }) {
  const snapshot = JSON.parse(await readFile(file, 'utf8'))
  const meta = snapshot.snapshot.meta
  const width = meta.node_fields.length
  const typeAt = meta.node_fields.indexOf('type')
  const nameAt = meta.node_fields.indexOf('name')
  const sizeAt = meta.node_fields.indexOf('self_size')
  const types = meta.node_types[0]
  const out = new Map()
  const nodes = snapshot.nodes
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]]
    let name = snapshot.strings[nodes[i + nameAt]]
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(strings)'
    else if (type === 'code') name = '(compiled code)'
    else if (type === 'number') name = '(heap numbers)'
    else if (type === 'array') name = `(array) ${name}`
    else if (closures && type === 'closure') name = `(closure) ${name}`
    const key = `${type}: ${name}`
    const entry = out.get(key) ?? { bytes: 0, count: 0 }
    entry.bytes += nodes[i + sizeAt]
    entry.count++
    out.set(key, entry)
  }
  return out
}

/**
 * Bytes and objects per connection by (type, constructor) between two heap
 * snapshots: `{ totalBytes, rows }`, the `rows` largest first (`keep` of them).
 * With `closures`, closures are keyed `closure: (closure) <name>`.
 */
export async function diffSnapshots (beforeFile, afterFile, n, { closures = false, keep = 25 } = {}) {
  const before = await totals(beforeFile, { closures })
  const after = await totals(afterFile, { closures })
  const rows = []
  let totalBytes = 0
  for (const [key, entry] of after) {
    const base = before.get(key) ?? { bytes: 0, count: 0 }
    const bytes = (entry.bytes - base.bytes) / n
    totalBytes += bytes
    if (Math.abs(bytes) >= 1) rows.push({ key, bytes, objects: (entry.count - base.count) / n })
  }
  rows.sort((a, b) => b.bytes - a.bytes)
  return { totalBytes, rows: rows.slice(0, keep) }
}
