/**
 * Picks a free TCP port by binding port 0 on the host and closing the socket again.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Net from "node:net"

/** A port the OS reports free on `host` right now (another process may still take it before the engine binds). */
export const freePort = (host: string): Effect.Effect<number, Error> =>
  Effect.async<number, Error>((resume) => {
    const server = Net.createServer()
    server.unref()
    server.once("error", (error) => resume(Effect.fail(error)))
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resume(port > 0 ? Effect.succeed(port) : Effect.fail(new Error("no port assigned"))))
    })
    return Effect.sync(() => {
      server.close()
    })
  })
