/**
 * The floor of the relay benchmark: the least a relay process can do on this machine. A bare
 * `node:http` server that forwards `POST /v1/completions` to the engine given as argument and
 * writes each SSE event back re-framed, like orchestratord's `/v1` does, with no queue, no lease,
 * no validation and no framework. Prints `listening on http://127.0.0.1:PORT`.
 *
 *   node bench/relay/plainRelay.mjs http://127.0.0.1:ENGINE_PORT
 */
import * as http from "node:http"

const engine = new URL(process.argv[2] ?? "http://127.0.0.1:8080")
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 })

const server = http.createServer((req, res) => {
  const chunks = []
  req.on("data", (chunk) => chunks.push(chunk))
  req.on("end", () => {
    const upstream = http.request({
      host: engine.hostname,
      port: engine.port,
      method: "POST",
      path: "/v1/completions",
      agent,
      headers: { "content-type": "application/json" }
    }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, { "content-type": "text/event-stream", "cache-control": "no-cache" })
      answer.setEncoding("utf8")
      let buffer = ""
      answer.on("data", (text) => {
        buffer += text
        let out = ""
        let end = buffer.indexOf("\n\n")
        while (end !== -1) {
          const data = buffer.slice(buffer.indexOf("data: ") + 6, end)
          buffer = buffer.slice(end + 2)
          if (data === "[DONE]") {
            out += "data: [DONE]\n\n"
          } else {
            const choice = JSON.parse(data).choices?.[0]
            out += `data: ${JSON.stringify({ object: "text_completion", choices: [choice] })}\n\n`
          }
          end = buffer.indexOf("\n\n")
        }
        if (out !== "") res.write(out)
      })
      answer.on("end", () => res.end())
    })
    upstream.on("error", () => res.destroy())
    res.on("close", () => {
      if (!res.writableFinished) upstream.destroy()
    })
    upstream.end(Buffer.concat(chunks))
  })
})

server.listen(0, "127.0.0.1", () => {
  const address = server.address()
  process.stdout.write(`listening on http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}\n`)
})
process.on("SIGTERM", () => {
  server.closeAllConnections()
  server.close(() => process.exit(0))
})
