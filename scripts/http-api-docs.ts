/**
 * Generates the HTTP API reference from orchestratord's `HttpApi` — the same document the daemon
 * serves at `/openapi.json` — into `docs/openapi.json` and `docs/HTTP-API.md`.
 *
 *   pnpm docs:api          # write both files
 *   pnpm docs:api --check  # fail when the committed files are out of date
 */
import * as OpenApi from "@effect/platform/OpenApi"
import * as fs from "node:fs"
import * as path from "node:path"
import { OrchestratorApi } from "../apps/orchestratord/src/Api.js"

const docsDir = path.resolve(new URL("../docs", import.meta.url).pathname)

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isObject = (u: unknown): u is { readonly [key: string]: Json } =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const field = (u: unknown, key: string): unknown => (isObject(u) ? u[key] : undefined)

const text = (u: unknown): string => (typeof u === "string" ? u : "")

/** The document, rendered the way `/openapi.json` serves it. */
export const openApiDocument = (): string => `${JSON.stringify(OpenApi.fromApi(OrchestratorApi), null, 2)}\n`

/** `#/components/schemas/X` → `X`. */
const refName = (schema: unknown): string | undefined => {
  const ref = field(schema, "$ref")
  return typeof ref === "string" ? ref.split("/").at(-1) : undefined
}

const describeSchema = (schema: unknown): string => {
  const ref = refName(schema)
  if (ref !== undefined) return `\`${ref}\``
  const anyOf = field(schema, "anyOf")
  if (Array.isArray(anyOf)) return anyOf.map(describeSchema).join(" \\| ")
  const properties = field(schema, "properties")
  const values = field(schema, "additionalProperties")
  // a record: `{ [key]: value }`
  if (isObject(properties) && Object.keys(properties).length === 0 && isObject(values)) {
    return `map of string to ${describeSchema(values)}`
  }
  if (isObject(properties)) {
    const required = field(schema, "required")
    const keys = Object.keys(properties).map((k) => (Array.isArray(required) && required.includes(k) ? k : `${k}?`))
    return `\`{ ${keys.join(", ")} }\``
  }
  const type = field(schema, "type")
  if (type === "array") return `array of ${describeSchema(field(schema, "items"))}`
  return typeof type === "string" ? type : "object"
}

/** The query parameters of an operation, one Markdown list item each. */
const queryParameters = (operation: unknown): ReadonlyArray<string> => {
  const parameters = field(operation, "parameters")
  if (!Array.isArray(parameters)) return []
  return parameters.filter((p) => field(p, "in") === "query").map((p) => {
    const values = field(field(p, "schema"), "enum")
    const type = Array.isArray(values)
      ? values.map((v) => `\`${String(v)}\``).join(" \\| ")
      : describeSchema(field(p, "schema"))
    const description = text(field(p, "description"))
    return `- \`${text(field(p, "name"))}${field(p, "required") === true ? "" : "?"}\` (${type})${
      description ? `: ${description}` : ""
    }`
  })
}

/** What each error status means, once for every route: a Markdown table. */
const statusMeanings = (spec: unknown): ReadonlyArray<string> => {
  const meanings = new Map<string, string>()
  const paths = field(spec, "paths")
  for (const operations of Object.values(isObject(paths) ? paths : {})) {
    for (const operation of Object.values(isObject(operations) ? operations : {})) {
      const responses = field(operation, "responses")
      for (const [status, response] of Object.entries(isObject(responses) ? responses : {})) {
        const body = refName(field(field(field(response, "content"), "application/json"), "schema"))
        if (body === "ErrorEnvelope" || body === "OpenAiError") {
          meanings.set(status, text(field(response, "description")))
        }
      }
    }
  }
  return [
    "What the error statuses mean, on every route that answers them:",
    "",
    "| status | when |",
    "|---|---|",
    ...[...meanings].sort(([a], [b]) => a.localeCompare(b)).map(([status, when]) => `| ${status} | ${when} |`)
  ]
}

/** The events of a `text/event-stream` response, as a Markdown table (none: nothing). */
const streamEvents = (mediaType: unknown): ReadonlyArray<string> => {
  const events = field(mediaType, "x-sse-events")
  if (!Array.isArray(events)) return []
  const rows = events.map((e) => {
    const data = field(e, "data")
    const constant = field(data, "const")
    const body = typeof constant === "string" ? `\`${constant}\`` : describeSchema(data)
    return `| \`${text(field(e, "event"))}\` | ${field(e, "id") === true ? "yes" : "no"} | ${body} | ${
      text(field(e, "description"))
    } |`
  })
  return ["Events:", "", "| event | id | data | when |", "|---|---|---|---|", ...rows, ""]
}

/** The Markdown reference: one section per route, then the schemas' fields. */
export const markdownReference = (document: string): string => {
  const spec: unknown = JSON.parse(document)
  const info = field(spec, "info")
  const out = [
    "# orchestratord HTTP API",
    "",
    `Version ${text(field(info, "version"))}. Generated from the daemon's \`HttpApi\` (the document it serves at`,
    "`/openapi.json`, also in [openapi.json](openapi.json)) by `pnpm docs:api`; do not edit by hand.",
    "",
    "Each route lists every status it answers, with the body of each: the document is checked against",
    "the answers of every route, driven into each error it can produce. `GET /docs` serves Swagger UI",
    "over this document, and `GET /ui` a live status page over `/v2/pools/events` and",
    "`/v2/activity/events`, both from the daemon itself (no CDN). When orchestratord is configured with a",
    "token, the routes marked *bearer token* need `Authorization: Bearer <token>` (401 otherwise);",
    "`/health`, `/ready`, `/metrics`, `/openapi.json`, `/docs` and `/ui` never do. Every route answers 403 to a request the",
    "request guard refuses and 500 (with the correlation id) to an internal error; every POST answers 415",
    "to a body that is not JSON.",
    "",
    "JSON field names are snake_case. Every response carries `X-Correlation-Id`. Errors use the envelope",
    "`{ code, message, retriable, retry_after_ms?, policy_label?, pool_id?, engine? }`; 429 and 503 also",
    "carry `Retry-After` (whole seconds) and `X-Backoff-Ms` when they are retriable. A pool whose restart",
    "circuit is open (state `Failed`) answers 503 `POOL_UNREADY` with `retriable: false`, policy label",
    "`pool-failed` and no `Retry-After`: it stays down until an operator preloads or reloads it. Bodies",
    "over `max_body_bytes` get 413; bodies nested deeper than 64 levels get 400.",
    "",
    "Request bodies must be `application/json` (415 `UNSUPPORTED_MEDIA_TYPE` otherwise). While the daemon",
    "listens on loopback, a `Host` other than `localhost`, a loopback address or an `allowed_hosts` name",
    "gets 403 `FORBIDDEN`, and so does a POST whose `Origin` is neither the daemon's own nor in",
    "`allowed_origins`; those origins also get CORS (`OPTIONS` preflights answer 204). See",
    "[SECURITY](SECURITY.md).",
    "",
    "The OpenAI-compatible routes (`/v1/...`) answer errors in OpenAI's envelope",
    "`{ error: { message, type, code, param } }`, `param` naming the request field at fault. Parameters",
    "orchestratord does not act on itself (`tools`, `tool_choice`, `parallel_tool_calls`,",
    "`response_format`, `n`, `logprobs`, `top_logprobs`, `presence_penalty`, `frequency_penalty`,",
    "`logit_bias`; for completions also `echo` and `suffix`) are checked and passed to the engine as they",
    "are, and what comes back (tool-call deltas, several choices, log probabilities, reasoning text) is",
    "relayed. Chat on llama.cpp engines goes to llama-server's own `/v1/chat/completions`, so the model's",
    "chat template applies. llama.cpp generates one choice per request: `n > 1` for a model a llama.cpp",
    "pool serves is 400 with `param: \"n\"`. `stream_options.include_usage` adds a last chunk with",
    "`choices: []` and `usage`; `usage` holds the engine's own counts when it reports them, and",
    "`system_fingerprint` is the engine's. On `/v2`, a `token` event may carry `c` (the choice, when not 0)",
    "and `x` (those extra fields as the engine sent them), and `end` carries `finish_reason` and",
    "`system_fingerprint` when the engine gave them; a task may set `engine_params` (any fields but the",
    "task's own) to send such parameters itself.",
    "",
    "A task that waits for an engine still loading its model (no pool of the model Ready) receives",
    "`loading` events `{ pool_id, elapsed_ms, eta_ms?, fraction?, progress? }` each time the load reports",
    "(every second): `eta_ms` from the last load of that model, `progress` the engine's own last loading",
    "line. Its `predicted_start_ms` includes the time the load has left. Pool statuses carry the same",
    "`loading` block while an engine loads. A task whose engine fails before its first token (a dead",
    "node, a crashed engine) is placed again once, announced by a `requeued` event `{ pool_id, reason }`.",
    "",
    "The event streams list their events: the SSE event name (`message` for the `data:`-only events of",
    "the `/v1` streams), whether it carries an `id:`, and the schema of its `data:`. In the document they",
    "are under `x-sse-events` of each `text/event-stream` response.",
    "",
    ...statusMeanings(spec),
    ""
  ]
  const paths = field(spec, "paths")
  if (isObject(paths)) {
    for (const [route, operations] of Object.entries(paths)) {
      if (!isObject(operations)) continue
      for (const [method, operation] of Object.entries(operations)) {
        out.push(`## \`${method.toUpperCase()} ${route}\``, "")
        const summary = text(field(operation, "summary"))
        const description = text(field(operation, "description"))
        if (summary) out.push(summary, "")
        if (description) out.push(description, "")
        const security = field(operation, "security")
        if (Array.isArray(security) && security.length > 0) {
          out.push("Needs the *bearer token* (when one is configured).", "")
        }
        const body = field(field(field(field(operation, "requestBody"), "content"), "application/json"), "schema")
        if (body !== undefined) out.push(`Request body: ${describeSchema(body)}`, "")
        const query = queryParameters(operation)
        if (query.length > 0) out.push("Query:", "", ...query, "")
        const responses = field(operation, "responses")
        if (isObject(responses)) {
          out.push("| status | body | headers |", "|---|---|---|")
          for (const [status, response] of Object.entries(responses)) {
            const content = field(response, "content")
            const bodies = isObject(content)
              ? Object.entries(content).map(([type, c]) =>
                type === "application/json" ? describeSchema(field(c, "schema")) : `\`${type}\``
              )
              : []
            const declared = field(response, "headers")
            const headers = Object.keys(isObject(declared) ? declared : {})
              .filter((h) => h !== "X-Correlation-Id")
              .map((h) => `\`${h}\``)
            out.push(`| ${status} | ${bodies.join(", ") || "(empty)"} | ${headers.join(", ")} |`)
          }
          out.push("")
          out.push(...streamEvents(field(field(field(responses, "200"), "content"), "text/event-stream")))
        }
      }
    }
  }
  const schemas = field(field(spec, "components"), "schemas")
  if (isObject(schemas)) {
    out.push("## Schemas", "")
    for (const [name, schema] of Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))) {
      const properties = field(schema, "properties")
      const required = field(schema, "required")
      out.push(`### ${name}`, "")
      if (!isObject(properties)) {
        out.push(describeSchema(schema), "")
        continue
      }
      out.push("| field | type | required |", "|---|---|---|")
      for (const [key, value] of Object.entries(properties)) {
        const isRequired = Array.isArray(required) && required.includes(key)
        out.push(`| \`${key}\` | ${describeSchema(value)} | ${isRequired ? "yes" : "no"} |`)
      }
      out.push("")
    }
  }
  return `${out.join("\n").trimEnd()}\n`
}

const main = (): void => {
  const document = openApiDocument()
  const files = { "openapi.json": document, "HTTP-API.md": markdownReference(document) }
  const check = process.argv.includes("--check")
  let stale = false
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(docsDir, name)
    if (check) {
      const current = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : ""
      if (current !== content) {
        process.stderr.write(`docs/${name} is out of date: run pnpm docs:api\n`)
        stale = true
      }
    } else {
      fs.writeFileSync(file, content)
      process.stdout.write(`wrote docs/${name}\n`)
    }
  }
  if (stale) process.exit(1)
}

if (process.argv[1] !== undefined && new URL(import.meta.url).pathname === process.argv[1]) main()
