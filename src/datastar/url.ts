/**
 * Where the page loads the Datastar client from (datastar-cl's `datastar-url`,
 * `*datastar-version*` and `*datastar-source*`).
 */
import { FST_ERR_DATASTAR_INVALID_ARGUMENT } from '../errors.js'

/** The client version this release is tested against. */
export const DATASTAR_VERSION = '1.0.0-RC.7'

/** Options of `datastarUrl`. */
export interface DatastarUrlOptions {
  /** Client version; default `DATASTAR_VERSION`. */
  version?: string
  /**
   * `'cdn'` (default: jsDelivr) or your own URL or path, e.g. `/assets/datastar.js`
   * or `https://static.example.com/datastar@{version}.js` (`{version}` is replaced).
   */
  source?: string
}

const VERSION = /^[0-9A-Za-z.+-]+$/

/**
 * The URL of the Datastar client script, for `<script type="module" src="…">`.
 * @example datastarUrl() // 'https://cdn.jsdelivr.net/gh/starfederation/datastar@1.0.0-RC.7/bundles/datastar.js'
 * @example datastarUrl({ source: '/datastar.js' }) // '/datastar.js'
 */
export function datastarUrl (options: DatastarUrlOptions = {}): string {
  const version = options.version ?? DATASTAR_VERSION
  if (!VERSION.test(version)) throw new FST_ERR_DATASTAR_INVALID_ARGUMENT(`client version ${JSON.stringify(version)} is not a version string`)
  const source = options.source ?? 'cdn'
  if (typeof source !== 'string' || source === '') throw new FST_ERR_DATASTAR_INVALID_ARGUMENT('client source must be "cdn" or a URL or path')
  if (source === 'cdn') return `https://cdn.jsdelivr.net/gh/starfederation/datastar@${version}/bundles/datastar.js`
  return source.replaceAll('{version}', version)
}
