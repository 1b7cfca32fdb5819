/**
 * What a remote caller of the pool manager's RPC may ask for.
 *
 * Engine profiles, environment, ports and everything else that decides which code runs come from
 * the operator's configuration. A remote caller may at most register pools built from that:
 * one of the configured engine profiles, a model ref (resolved under the model directory), slots
 * and context within the configured maxima, a device mask, a startup timeout and `preload`.
 * Anything else — `env`, `args`, a fixed `port`, a field the spec does not know — is refused with a typed
 * `InvalidSpec`; an unknown engine with `EngineNotAllowed`. Remote registration (and `Remove`) is
 * off unless the operator turns it on.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { InvalidSpec, Unauthorized } from "./PoolErrors.js"
import { PoolSpec } from "./PoolSpec.js"

const PositiveInt = Schema.Int.pipe(Schema.positive())

/**
 * The remote policy of a served pool manager. Defaults: no remote `Register` or `Remove`; when
 * allowed, at most 64 slots, 131 072 tokens of context and a 10-minute startup timeout.
 *
 * @category models
 * @since 0.1.0
 */
export class RemotePolicy extends Schema.Class<RemotePolicy>("RemotePolicy")({
  /** Whether remote callers may `Register` and `Remove` pools (default `false`). */
  allowRegister: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  /** The most slots a remotely registered pool may have. */
  maxSlots: Schema.optionalWith(PositiveInt, { default: () => 64 }),
  /** The most context (`ctxMax`) a remotely registered pool may have. */
  maxCtx: Schema.optionalWith(PositiveInt, { default: () => 131_072 }),
  /** The longest `startupTimeoutMs` a remotely registered pool may ask for. */
  maxStartupTimeoutMs: Schema.optionalWith(PositiveInt, { default: () => 600_000 })
}) {}

/**
 * The policy that refuses remote registration.
 *
 * @category utils
 * @since 0.1.0
 */
export const registrationDisabled: RemotePolicy = new RemotePolicy({})

/**
 * The payload of the `Register` call: a `PoolSpec` with no field it does not know, or anything else,
 * which the server answers with a typed `InvalidSpec` rather than a decoding defect.
 *
 * @category schemas
 * @since 0.1.0
 */
export const RegisterPayload = Schema.Union(
  PoolSpec.annotations({ parseOptions: { onExcessProperty: "error" } }),
  Schema.Unknown
)

const disabled = (operation: string) =>
  new Unauthorized({
    reason: `remote ${operation} is disabled on this pool manager: pools come from its configuration ` +
      `(the operator can set allow_remote_register: true)`
  })

const idOf = (payload: unknown): string => {
  if (typeof payload !== "object" || payload === null || !("id" in payload)) return "(no id)"
  return typeof payload.id === "string" ? payload.id.slice(0, 64) : "(no id)"
}

const strictSpec = Schema.decodeUnknownEither(PoolSpec, { onExcessProperty: "error", errors: "all" })

const shortReason = (error: ParseResult.ParseError): string =>
  ParseResult.ArrayFormatter.formatErrorSync(error)
    .slice(0, 5)
    .map((issue) => `${issue.path.length === 0 ? "spec" : issue.path.join(".")}: ${issue.message}`)
    .join("; ")
    .slice(0, 500)

/**
 * Checks a remote `Register` payload against the policy: the spec itself (every field known and
 * valid), then what a remote caller may not choose. The engine profile is checked by the manager.
 *
 * @category utils
 * @since 0.1.0
 */
export const admitRegister = (
  policy: RemotePolicy,
  payload: unknown
): Either.Either<PoolSpec, InvalidSpec | Unauthorized> => {
  if (!policy.allowRegister) return Either.left(disabled("Register"))
  const decoded = payload instanceof PoolSpec
    ? Either.right(payload)
    : Either.mapLeft(
      strictSpec(payload),
      (error) => new InvalidSpec({ poolId: idOf(payload), reason: shortReason(error) })
    )
  return Either.flatMap(decoded, (spec) => {
    const refuse = (reason: string) => Either.left(new InvalidSpec({ poolId: spec.id, reason }))
    if (spec.env !== undefined) {
      return refuse("env is not accepted from a remote caller: an engine's environment comes from its profile")
    }
    if (spec.args !== undefined) {
      return refuse(
        "args are not accepted from a remote caller: an engine's arguments come from its profile and the catalog"
      )
    }
    if (spec.port !== undefined) {
      return refuse("port is not accepted from a remote caller: remotely registered engines get a free port")
    }
    if (spec.slots > policy.maxSlots) return refuse(`slots ${spec.slots} is above the maximum of ${policy.maxSlots}`)
    if (spec.ctxMax > policy.maxCtx) return refuse(`ctxMax ${spec.ctxMax} is above the maximum of ${policy.maxCtx}`)
    if (spec.startupTimeoutMs !== undefined && spec.startupTimeoutMs > policy.maxStartupTimeoutMs) {
      return refuse(`startupTimeoutMs ${spec.startupTimeoutMs} is above the maximum of ${policy.maxStartupTimeoutMs}`)
    }
    return Either.right(spec)
  })
}

/**
 * Checks a remote `Remove`: allowed only where remote registration is.
 *
 * @category utils
 * @since 0.1.0
 */
export const admitRemove = (policy: RemotePolicy): Either.Either<void, Unauthorized> =>
  policy.allowRegister ? Either.void : Either.left(disabled("Remove"))
