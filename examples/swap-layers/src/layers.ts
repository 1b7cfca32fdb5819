/**
 * The two `PoolManager` layers a program can run on. Code that uses the `PoolManager` tag does not
 * change; only the Layer given to it does.
 */
import { FileSystem, HttpLayerRouter, HttpServer } from "@effect/platform"
import { NodeContext, NodeHttpClient, NodeHttpServer } from "@effect/platform-node"
import { mockEngineCommand, mockEngineProfileArgs } from "@llama-orch/mock-engine"
import { PoolClient } from "@llama-orch/pool-client"
import { EmbeddedPoolManager, EngineProfile, PoolManager, PoolRpcHandlers, RemotePolicy } from "@llama-orch/pool-core"
import { Context, Effect, Layer, Redacted } from "effect"
import { createServer } from "node:http"

const mock = mockEngineCommand()

/** An engine profile running the mock engine (a real process speaking llama-server's protocol). */
export const mockProfile = new EngineProfile({
  name: "mock",
  protocol: "llamacpp",
  command: mock.command,
  args: [...mock.args, ...mockEngineProfileArgs]
})

/** In-process: this program spawns and supervises the engines itself. */
export const embedded = Layer.unwrapScoped(
  Effect.map(
    Effect.flatMap(FileSystem.FileSystem, (fs) => fs.makeTempDirectoryScoped({ prefix: "swap-layers-" })),
    (stateDir) => EmbeddedPoolManager.layer({ profiles: [mockProfile], stateDir, stopGraceMs: 3_000 })
  )
).pipe(Layer.provide([NodeContext.layer, NodeHttpClient.layerUndici]))

/** Remote: the same service over RPC, from a pool-managerd at `url`. */
export const remote = (url: string, token: Redacted.Redacted<string>): Layer.Layer<PoolManager> =>
  PoolClient.layer({ url, token }).pipe(Layer.provide(NodeHttpClient.layerUndici))

/**
 * For a self-contained run: serves an embedded manager over RPC on 127.0.0.1 (what pool-managerd
 * does) and returns the `remote` layer pointing at it.
 */
export const remoteToLocalServer = Layer.unwrapScoped(
  Effect.gen(function*() {
    const token = Redacted.make("swap-layers-token")
    const server = yield* Layer.build(
      HttpLayerRouter.serve(
        PoolRpcHandlers.layerRoute({ token, remote: RemotePolicy.RemotePolicy.make({ allowRegister: true }) }),
        { disableLogger: true, disableListenLog: true }
      )
        .pipe(
          Layer.provide(embedded),
          Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0 }))
        )
    )
    const address = Context.get(server, HttpServer.HttpServer).address
    const port = address._tag === "TcpAddress" ? address.port : 0
    return remote(`http://127.0.0.1:${port}`, token)
  })
)
