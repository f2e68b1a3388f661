/**
 * The little HTML that the SDK writes itself: `<script>` tags for
 * executeScript, with attribute values escaped and content unable to close the tag.
 */
import { FST_ERR_DATASTAR_INVALID_ARGUMENT } from '../errors.js'

/** Script attributes: an object (true gives a bare attribute, false/null/undefined none) or `name` / `name="value"` strings. */
export type ScriptAttributes =
  | Readonly<Record<string, string | number | boolean | null | undefined>>
  | readonly string[]

// HTML attribute names: no whitespace, controls, quotes, '>', '/', '=' (HTML § 13.1.2.3).
/* eslint-disable no-control-regex */
const ATTRIBUTE_NAME = /^[^\s\0-\x1f\x7f"'>/=]+$/
const ATTRIBUTE_STRING = /^([^\s\0-\x1f\x7f"'>/=]+)(?:=(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]*)))?$/
/* eslint-enable no-control-regex */
const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '"': '&quot;', '<': '&lt;', '>': '&gt;', "'": '&#39;' }

/**
 * Escapes text for a double-quoted attribute value or element content.
 * @example escapeHtml('a "b" <c>') // 'a &quot;b&quot; &lt;c&gt;'
 */
export function escapeHtml (text: string): string {
  return text.replace(/[&"<>']/g, (char) => HTML_ESCAPES[char] as string)
}

/**
 * Makes script text safe inside `<script>…</script>`: `</script` and `<!--`
 * get a backslash (`<\/script`, `<\!--`), which means the same in JavaScript
 * strings, regexps and template literals but cannot end the element.
 * @example escapeScript('"</script>"') // '"<\/script>"'
 */
export function escapeScript (script: string): string {
  return script.replace(/<(\/script|!--)/gi, '<\\$1')
}

/**
 * Validates attributes and lists them as `[name, value]` pairs, `true` for a
 * bare attribute; false, null and undefined values are left out.
 * @example attributeEntries(['defer', 'type="module"']) // [['defer', true], ['type', 'module']]
 */
export function attributeEntries (attributes: ScriptAttributes): Array<[string, string | true]> {
  const entries: Array<[string, string | true]> = []
  if (Array.isArray(attributes)) {
    for (const entry of attributes as readonly string[]) {
      const match = typeof entry === 'string' ? ATTRIBUTE_STRING.exec(entry.trim()) : null
      if (match === null) throw new FST_ERR_DATASTAR_INVALID_ARGUMENT(`script attribute ${JSON.stringify(entry)} is not of the form name or name="value"`)
      entries.push([match[1] as string, match[2] ?? match[3] ?? match[4] ?? true])
    }
    return entries
  }
  for (const [name, value] of Object.entries(attributes)) {
    if (!ATTRIBUTE_NAME.test(name)) throw new FST_ERR_DATASTAR_INVALID_ARGUMENT(`script attribute name ${JSON.stringify(name)} is not a valid HTML attribute name`)
    if (value === false || value === null || value === undefined) continue
    entries.push([name, value === true ? true : String(value)])
  }
  return entries
}

/**
 * Renders attributes as ` name="value"` pairs, validating names and escaping values.
 * @example renderAttributes({ type: 'module', async: true }) // ' type="module" async'
 */
export function renderAttributes (attributes: ScriptAttributes | undefined): string {
  if (attributes === undefined) return ''
  let out = ''
  for (const [name, value] of attributeEntries(attributes)) {
    out += value === true ? ' ' + name : ' ' + name + '="' + escapeHtml(value) + '"'
  }
  return out
}
