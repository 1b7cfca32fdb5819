/**
 * orchestratord's pool event stream (`GET /v2/pools/events`) decoded: a snapshot of every pool
 * first, then one update per change. The live views, the progress indicator and the waits of
 * `pools drain` all read it; none polls.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { type CliError, OperationFailed } from "./CliError.js"
import { decodeData, OrchestratorClient } from "./OrchestratorClient.js"
import { ErrorBody, PoolList, PoolStatusEvent, type PoolView } from "./WireSchemas.js"

/**
 * One event of the stream: every pool (first), or one pool that changed and why.
 *
 * @since 0.1.0
 */
export type PoolUpdate = Data.TaggedEnum<{
  Snapshot: { readonly pools: ReadonlyArray<PoolView>; readonly raw: unknown }
  Status: { readonly reason: string; readonly pool: PoolView; readonly raw: unknown }
}>

/**
 * @since 0.1.0
 */
export const PoolUpdate = Data.taggedEnum<PoolUpdate>()

const route = "/v2/pools/events"

const decode = <A, I>(schema: Schema.Schema<A, I>, data: string) => decodeData(route, schema, data)

/**
 * The pool events, decoded; the stream fails with `OperationFailed` when the server ends it with a
 * `failed` event (or ends it at all: it is endless while orchestratord runs).
 *
 * @since 0.1.0
 */
export const updates: Stream.Stream<PoolUpdate, CliError, OrchestratorClient> = Stream.unwrap(
  Effect.map(OrchestratorClient, (client) =>
    client.events(route).pipe(
      Stream.mapEffect((event): Effect.Effect<ReadonlyArray<PoolUpdate>, CliError> => {
        switch (event.event) {
          case "snapshot":
            return Effect.map(decode(PoolList, event.data), (list) => [
              PoolUpdate.Snapshot({ pools: list.pools, raw: JSON.parse(event.data) })
            ])
          case "status":
            return Effect.map(decode(PoolStatusEvent, event.data), (status) => [
              PoolUpdate.Status({ reason: status.reason, pool: status.pool, raw: JSON.parse(event.data) })
            ])
          case "failed":
            return Effect.flatMap(
              decode(ErrorBody, event.data),
              (failed) =>
                Effect.fail(new OperationFailed({ detail: `pool events ended: ${failed.code}: ${failed.message}` }))
            )
          default:
            return Effect.succeed([])
        }
      }),
      Stream.flattenIterables,
      Stream.concat(Stream.fail(new OperationFailed({ detail: "orchestratord ended the pool event stream" })))
    ))
)

/**
 * The pools by id after an update.
 *
 * @since 0.1.0
 */
export const apply = (pools: ReadonlyMap<string, PoolView>, update: PoolUpdate): ReadonlyMap<string, PoolView> =>
  PoolUpdate.$match(update, {
    Snapshot: ({ pools: all }) => new Map(all.map((pool) => [pool.pool_id, pool])),
    Status: ({ pool }) => new Map([...pools, [pool.pool_id, pool]])
  })

const none: ReadonlyMap<string, PoolView> = new Map()

/**
 * The pools' states, kept current from `updates`.
 *
 * @since 0.1.0
 */
export const states: Stream.Stream<ReadonlyMap<string, PoolView>, CliError, OrchestratorClient> = updates.pipe(
  Stream.scan(none, apply),
  Stream.drop(1)
)
