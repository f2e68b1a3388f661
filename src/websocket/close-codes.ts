/**
 * The WebSocket close codes this package sends (RFC 6455 §7.4.1), named for
 * what they mean to the application.
 */
export const CloseCode = {
  /** The conversation ended normally. */
  NORMAL: 1000,
  /** The server is shutting down (`app.close()`). */
  GOING_AWAY: 1001,
  /** A binary frame reached a resource without a `binary` handler (or text without `message`). */
  UNSUPPORTED_DATA: 1003,
  /** Nothing was received: the connection dropped without a close frame. */
  ABNORMAL: 1006,
  /** A text message that is not valid UTF-8 (found by ws). */
  INVALID_PAYLOAD: 1007,
  /** A message the resource refuses: invalid JSON or a schema violation. */
  POLICY_VIOLATION: 1008,
  /** A message over the resource's size limit. */
  MESSAGE_TOO_BIG: 1009,
  /** A handler threw: the server could not go on with this client. */
  INTERNAL_ERROR: 1011
} as const

/** One of the close codes above. */
export type CloseCodeValue = typeof CloseCode[keyof typeof CloseCode]

// ws reports receiver errors with its own codes; these are the close codes it sends for them.
const WS_ERROR_CLOSE_CODES: Readonly<Record<string, number>> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: CloseCode.MESSAGE_TOO_BIG,
  WS_ERR_INVALID_UTF8: CloseCode.INVALID_PAYLOAD
}

/**
 * The close code ws sent for one of its receiver errors (1002, protocol error, for the others).
 * @example closeCodeOfWsError(Object.assign(new Error(), { code: 'WS_ERR_INVALID_UTF8' })) // 1007
 */
export function closeCodeOfWsError (error: Error & { code?: string }): number {
  return (error.code !== undefined ? WS_ERROR_CLOSE_CODES[error.code] : undefined) ?? 1002
}
