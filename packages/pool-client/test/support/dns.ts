/**
 * DNS for cluster tests: a real DNS server on loopback answering a name's A records from a set the
 * test changes while it runs, and a port free on the loopback addresses that stand for nodes.
 */
import DNS from "dns2"
import { Effect } from "effect"
import * as NodeNet from "node:net"

/** A DNS server on 127.0.0.1 (UDP, OS-chosen port) answering A records of `name` from `addresses`. */
export const dnsServer = (name: string, addresses: ReadonlySet<string>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const server = DNS.createServer({
        udp: true,
        handle: (request, send) => {
          const response = DNS.Packet.createResponseFromRequest(request)
          const question = request.questions[0]
          if (question !== undefined && question.name === name && question.type === DNS.Packet.TYPE.A) {
            for (const address of addresses) {
              response.answers.push(DNS.Packet.createResourceFromQuestion(question, { ttl: 1, address }))
            }
          }
          void send(response)
        }
      })
      const bound = await server.listen({ udp: { port: 0, address: "127.0.0.1" } })
      return { server, port: bound.udp?.port ?? 0 }
    }),
    ({ server }) => Effect.promise(() => server.close())
  )

/** A port free on `address` (a loopback address standing for a node: every node uses the same port). */
export const freePort = (address: string) =>
  Effect.promise(() =>
    new Promise<number>((resolve, reject) => {
      const server = NodeNet.createServer()
      server.once("error", reject)
      server.listen(0, address, () => {
        const bound = server.address()
        server.close(() => resolve(typeof bound === "object" && bound !== null ? bound.port : 0))
      })
    })
  )
