/**
 * Bind safety: a daemon listens on loopback unless a token protects it. Binding to any other
 * address without a token is refused at start-up.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { isIP } from "node:net"

/**
 * Whether `host` only reaches this machine: `localhost`, an address in `127.0.0.0/8`, `::1`, or an
 * IPv4-mapped loopback address (`::ffff:127.0.0.1`). Everything else, `0.0.0.0` and `::` included,
 * is not loopback.
 *
 * @category guards
 * @since 0.1.0
 */
export const isLoopbackHost = (host: string): boolean => {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1")
  if (h === "localhost" || h === "localhost.") return true
  switch (isIP(h)) {
    case 4:
      return h.split(".")[0] === "127"
    case 6: {
      if (h === "::1" || /^0{0,4}(:0{0,4}){6}:0{0,3}1$/.test(h)) return true
      const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h)
      return mapped !== null && mapped[1] !== undefined && isIP(mapped[1]) === 4 && mapped[1].split(".")[0] === "127"
    }
    default:
      return false
  }
}

/**
 * The daemon was asked to listen beyond loopback without a token. Daemons exit with code 2.
 *
 * @category errors
 * @since 0.1.0
 */
export class BindRefused extends Schema.TaggedError<BindRefused>()("BindRefused", {
  host: Schema.String,
  tokenHint: Schema.String
}) {
  override get message(): string {
    return `refusing to listen on ${this.host} without a token: only loopback (127.0.0.0/8, ::1, localhost) ` +
      `may be used without authentication. Configure a token (${this.tokenHint}) or bind to 127.0.0.1.`
  }
}

/**
 * Fails with `BindRefused` when `host` is not loopback and no token is configured. `tokenHint` tells
 * the operator how to configure one (e.g. "token, token_file or POOL_MANAGERD_TOKEN").
 *
 * @category utils
 * @since 0.1.0
 */
export const ensureBindAllowed = (
  host: string,
  token: Option.Option<Redacted.Redacted<string>>,
  tokenHint: string
): Effect.Effect<void, BindRefused> =>
  Option.isNone(token) && !isLoopbackHost(host) ? Effect.fail(new BindRefused({ host, tokenHint })) : Effect.void
