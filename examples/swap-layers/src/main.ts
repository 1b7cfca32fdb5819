/**
 * Runs the same program on the embedded layer and on the RPC layer:
 *
 *   pnpm --filter @llama-orch/example-swap-layers start
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import { embedded, remoteToLocalServer } from "./layers.js"
import { servePool } from "./program.js"

const program = Effect.gen(function*() {
  for (const [name, layer] of [["embedded", embedded], ["remote (RPC)", remoteToLocalServer]] as const) {
    const result = yield* servePool("swap-demo").pipe(Effect.provide(layer))
    yield* Console.log(
      `${name}: engine at ${result.url}, leased ${result.leasedModel}, ${result.slotsFreeWhileLeased}/${result.slotsTotal} slots free while leased`
    )
  }
})

NodeRuntime.runMain(program)
