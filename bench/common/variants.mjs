// A bench's variants (servers/<script>, one process each): `{ id, label, short,
// script, env?, ours?, diagnostic?, phases? }`, looked up by id.

/** The lookup of a bench's variants and diagnostics by id (an unknown id throws, naming the known ones). */
export function lookup (...lists) {
  const all = lists.flat()
  return (id) => {
    const variant = all.find((candidate) => candidate.id === id)
    if (variant === undefined) throw new Error(`unknown variant ${id}; known: ${all.map((v) => v.id).join(', ')}`)
    return variant
  }
}
