/**
 * Event sourcing: a bank account kept as an append-only log of domain events.
 *
 * - Commands (`POST /ledger/deposit`, `POST /ledger/withdraw`) check the
 *   command against the current state and, when it holds, append ONE domain
 *   event (`deposited` or `withdrawn`) to the log. Nothing is ever updated
 *   in place.
 * - The read model (balance, totals, version) is a fold over the log:
 *   `project(log) = log.reduce(apply, EMPTY)`. The app keeps the fold's result
 *   and applies each new event to it with the same `apply`.
 * - Every appended event is broadcast, as it happens, to the registry
 *   `app.registry('ledger', { replay: 1000, onResync })`: one registry event
 *   (one SSE id) per domain event, made of two Datastar patches, the statement
 *   line appended to `#statement` and the new `#totals`.
 * - `GET /ledger/events` is the page's stream. A client that reconnects with
 *   `Last-Event-ID` (the Datastar client sends it when it retries) receives
 *   exactly the events it missed, in order, from the registry's replay ring,
 *   then live ones. A client that is too far behind (or sends an id this
 *   server never gave) gets the full state instead, through `onResync`; so does
 *   a new client. The full state carries the id of the newest event it
 *   includes, so the next reconnect resumes from there.
 *
 * Run it alone: `npm run build && node dist/examples/event-sourcing.js`, then
 * open http://127.0.0.1:3004/ledger.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync, type FastifyServerOptions } from 'fastify'
import { Type } from '@sinclair/typebox'
import datastar, { type DatastarStream } from 'fastify-datastar'
import { escapeHtml, patchElementsEvent } from 'fastify-datastar/core'
import { isMain, serveAlone } from './run-alone.js'

/** A domain event of the account, as appended to the log. */
export type LedgerEvent =
  | { seq: number, at: string, type: 'deposited', amount: number, memo: string }
  | { seq: number, at: string, type: 'withdrawn', amount: number, memo: string }

/** The read model: what the page shows, derived from the log alone. */
export interface Account {
  balance: number
  deposited: number
  withdrawn: number
  /** How many events were folded in (the seq of the newest one). */
  version: number
}

/** The state before any event. */
export const EMPTY: Account = { balance: 0, deposited: 0, withdrawn: 0, version: 0 }

/** One step of the fold: the state after `event`. Pure. */
export function apply (account: Account, event: LedgerEvent): Account {
  switch (event.type) {
    case 'deposited':
      return { ...account, balance: account.balance + event.amount, deposited: account.deposited + event.amount, version: event.seq }
    case 'withdrawn':
      return { ...account, balance: account.balance - event.amount, withdrawn: account.withdrawn + event.amount, version: event.seq }
  }
}

/** The read model of a whole log. */
export function project (log: readonly LedgerEvent[]): Account {
  return log.reduce(apply, EMPTY)
}

/** The signals of a command: an amount in whole units and an optional memo. */
export const CommandSignals = Type.Object({
  amount: Type.Integer({ minimum: 1, maximum: 1_000_000 }),
  memo: Type.Optional(Type.String({ maxLength: 100 }))
})

/** The name of the example's registry. */
export const LEDGER_REGISTRY = 'ledger'

/** Options of the ledger plugin. */
export interface LedgerOptions {
  /** Events the registry keeps for clients that resume. Default 1000. */
  replay?: number
}

function renderTotals (account: Account): string {
  return `<p id="totals">Balance <output id="balance">${account.balance}</output>
    (in ${account.deposited}, out ${account.withdrawn}, version <span id="version">${account.version}</span>)</p>`
}

function renderEntry (event: LedgerEvent, balanceAfter: number): string {
  const sign = event.type === 'deposited' ? '+' : '−'
  const memo = event.memo === '' ? '' : ` <q>${escapeHtml(event.memo)}</q>`
  return `<li id="entry-${event.seq}" data-seq="${event.seq}">#${event.seq} ${event.type} ${sign}${event.amount}${memo} → ${balanceAfter}</li>`
}

/** The full state: totals and the statement, one line per event, oldest first. */
export function renderLedger (log: readonly LedgerEvent[]): string {
  let account = EMPTY
  const lines = log.map((event) => {
    account = apply(account, event)
    return renderEntry(event, account.balance)
  })
  return `<section id="ledger">
  ${renderTotals(account)}
  <ol id="statement">
    ${lines.join('\n    ')}
  </ol>
</section>`
}

function page (clientUrl: string, log: readonly LedgerEvent[]): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>fastify-datastar event sourcing</title>
  <script type="module" src="${clientUrl}"></script>
  <style>
    body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 2rem auto; padding: 0 1rem }
    #statement { font-family: ui-monospace, monospace }
    .error { color: #b00 }
  </style>
</head>
<body>
  <div data-signals="{amount: 10, memo: '', error: ''}" data-init="@get('/ledger/events')">
    <h1>Account</h1>
    <p>
      <input type="number" min="1" data-bind:amount>
      <input placeholder="memo" maxlength="100" data-bind:memo>
      <button data-on:click="@post('/ledger/deposit')">Deposit</button>
      <button data-on:click="@post('/ledger/withdraw')">Withdraw</button>
    </p>
    <p class="error" data-show="$error !== ''" data-text="$error"></p>
    ${renderLedger(log)}
  </div>
</body>
</html>
`
}

/** The ledger's routes; register `fastify-datastar` on the instance first. */
export const ledger: FastifyPluginAsync<LedgerOptions> = async (fastify, options) => {
  // The event store: append-only, in memory, this plugin's own.
  const log: LedgerEvent[] = []
  let account = EMPTY
  // The registry id of the newest event broadcast: the full state is stamped
  // with it, so a client that got the full state resumes after it.
  let headId: string | undefined

  const sendFullState = (sse: DatastarStream): void => {
    sse.patchElements(renderLedger(log), { eventId: headId })
  }

  const events = fastify.registry(LEDGER_REGISTRY, {
    replay: options.replay ?? 1000,
    // The client's Last-Event-ID is older than the ring (or unknown): the events
    // it missed are gone, so it gets the state they led to.
    onResync: (sse) => { sendFullState(sse) }
  })

  /** Appends an event, folds it into the read model, and broadcasts it. */
  async function append (type: LedgerEvent['type'], amount: number, memo: string): Promise<LedgerEvent> {
    const event: LedgerEvent = { seq: log.length + 1, at: new Date().toISOString(), type, amount, memo }
    log.push(event)
    account = apply(account, event)
    // One registry event per domain event: its two patches share one SSE id,
    // so they are replayed (or not) together.
    headId = await events.publish(
      patchElementsEvent(renderEntry(event, account.balance), { selector: '#statement', mode: 'append' }) +
      patchElementsEvent(renderTotals(account))
    )
    return event
  }

  fastify.get('/ledger', async (_request, reply) => {
    return reply.type('text/html; charset=utf-8').send(page(fastify.datastarUrl(), log))
  })

  fastify.get('/ledger/events', async (_request, reply) => {
    const sse = reply.datastar()
    // A client with no Last-Event-ID starts from the full state; one with an
    // id gets what it missed (or the full state, by onResync) from add().
    if (sse.lastEventId === undefined || sse.lastEventId === '') sendFullState(sse)
    events.add(sse)
  })

  /** The log itself, as JSON, and the read model folded from it again. */
  fastify.get('/ledger/log', async () => ({ events: log, account: project(log) }))

  fastify.post('/ledger/deposit', { schema: { signals: CommandSignals } }, async (request, reply) => {
    const { amount, memo = '' } = request.readSignals()
    await append('deposited', amount, memo)
    return reply.datastarSignals({ error: '' })
  })

  fastify.post('/ledger/withdraw', { schema: { signals: CommandSignals } }, async (request, reply) => {
    const { amount, memo = '' } = request.readSignals()
    // The command is checked against the read model; a rejected command
    // appends nothing and only tells its sender.
    if (amount > account.balance) {
      return reply.datastarSignals({ error: `Insufficient funds: the balance is ${account.balance}.` })
    }
    await append('withdrawn', amount, memo)
    return reply.datastarSignals({ error: '' })
  })
}

/** The event-sourcing app: `fastify-datastar` and the ledger, with its page at `/ledger`. */
export async function buildEventSourcingApp (options: FastifyServerOptions = {}, ledgerOptions: LedgerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(options)
  await app.register(datastar)
  await app.register(ledger, ledgerOptions)
  return app
}

if (isMain(import.meta.url)) await serveAlone(() => buildEventSourcingApp({ logger: true }), 3004, 'event-sourcing example', '/ledger')
