/**
 * What the OpenAPI document says beyond what `OpenApi.fromApi` derives from the endpoints: the
 * events of each event stream, the bearer scheme on the routes that can answer 401, the headers
 * of every answer (`X-Correlation-Id`; `Retry-After` and `X-Backoff-Ms` on retriable 429 and 503),
 * a description of every error status, and no trace of the framework's own decode error (every
 * route reads its input itself and answers the API's envelope).
 *
 * @internal
 */
import * as Option from "effect/Option"
import * as AST from "effect/SchemaAST"
import type { StreamEvent } from "../EventSchemas.js"

type Json = Record<string, unknown>

const isRecord = (u: unknown): u is Json => typeof u === "object" && u !== null && !Array.isArray(u)

const entries = (u: unknown): ReadonlyArray<readonly [string, Json]> =>
  isRecord(u) ? Object.entries(u).flatMap(([k, v]) => (isRecord(v) ? [[k, v] as const] : [])) : []

const schemaRef = (name: string) => `#/components/schemas/${name}`

/** The name of the security scheme of the bearer token. */
const bearerScheme = "bearer"

const eventDoc = (event: StreamEvent): Json => {
  const data = event.data._tag === "Literal"
    ? { type: "string", const: event.data.text, description: "sent as it is, not JSON" }
    : Option.match(AST.getIdentifierAnnotation(event.data.schema.ast), {
      onNone: () => ({}),
      onSome: (identifier) => ({ $ref: schemaRef(identifier) })
    })
  return { event: event.event, id: event.id, data, description: event.description }
}

/**
 * An `OpenApi.Transform` of an operation that answers `text/event-stream` with `events` (beside
 * what it declares otherwise): the media type's schema is the stream's text, and `x-sse-events`
 * lists its event types, each with the schema of its `data:`.
 */
export const eventStream = (events: ReadonlyArray<StreamEvent>, description: string) => (operation: Json): Json => {
  const responses = isRecord(operation.responses) ? operation.responses : {}
  const ok = isRecord(responses["200"]) ? responses["200"] : { description }
  const content = isRecord(ok.content) ? ok.content : {}
  return {
    ...operation,
    responses: {
      ...responses,
      "200": {
        ...ok,
        description,
        content: {
          ...content,
          "text/event-stream": {
            schema: {
              type: "string",
              description: "Server-sent events; comments (`: heartbeat`) keep the connection alive. The event " +
                "types are listed in x-sse-events, each with the schema of its data."
            },
            "x-sse-events": events.map(eventDoc)
          }
        }
      }
    }
  }
}

const errorDescriptions: Readonly<Record<string, string>> = {
  "400": "The request is not valid: malformed or empty JSON, a field or query parameter of the wrong type or " +
    "value, a body nested too deep. The message (OpenAI: param) names the field.",
  "401": "No bearer token, or a wrong one (only when orchestratord is configured with a token).",
  "403": "Refused by the request guard: a Host that is not this daemon's, or a state-changing request from a " +
    "browser origin that is not allowed.",
  "404": "Not found.",
  "409": "The task was cancelled before it finished.",
  "413": "The request body exceeds max_body_bytes.",
  "415": "A request body that is not application/json.",
  "429": "Refused by admission (queue full, session budget) or dropped from a full queue: retry after " +
    "Retry-After.",
  "500": "An internal error; the message carries the correlation id.",
  "502": "An engine failed (start, reload, or while generating), or its answer could not be used.",
  "503": "No pool can serve now (not ready, draining, its restart circuit open), the pool manager is " +
    "unreachable, or orchestratord is shutting down. Retriable answers carry Retry-After.",
  "504": "The engine stopped sending tokens (decode timeout)."
}

const errorBodies = new Set(["ErrorEnvelope", "PoolOperationFailed", "OpenAiError"].map(schemaRef))

/** The `$ref`s of a response's JSON body (a reference or a union of references). */
const bodyRefs = (response: Json): ReadonlyArray<string> => {
  const content = isRecord(response.content) ? response.content["application/json"] : undefined
  const schema = isRecord(content) ? content.schema : undefined
  if (!isRecord(schema)) return []
  const members = Array.isArray(schema.anyOf) ? schema.anyOf : [schema]
  return members.flatMap((m) => (isRecord(m) && typeof m.$ref === "string" ? [m.$ref] : []))
}

const decodeError = schemaRef("HttpApiDecodeError")

/** The 400 without the framework's decode error: the response, or `undefined` when nothing is left. */
const withoutDecodeError = (response: Json): Json | undefined => {
  const refs = bodyRefs(response).filter((ref) => ref !== decodeError)
  if (refs.length === bodyRefs(response).length) return response
  const [only] = refs
  if (only === undefined) return undefined
  const schema = refs.length === 1 ? { $ref: only } : { anyOf: refs.map(($ref) => ({ $ref })) }
  return { ...response, content: { "application/json": { schema } } }
}

const header = (name: string): Json => ({ $ref: `#/components/headers/${name}` })

const headers: Json = {
  "X-Correlation-Id": {
    description: "The request's X-Correlation-Id when it sent a valid one, else a new UUID.",
    required: true,
    schema: { type: "string" }
  },
  "Retry-After": {
    description: "Seconds to wait before retrying (at least 1), on retriable 429 and 503 answers.",
    schema: { type: "integer", minimum: 1 }
  },
  "X-Backoff-Ms": {
    description: "Milliseconds to wait before retrying (retry_after_ms), on retriable 429 and 503 answers.",
    schema: { type: "integer", minimum: 100, maximum: 60000 }
  }
}

const finishResponse = (status: string, response: Json): Json => {
  const isError = bodyRefs(response).some((ref) => errorBodies.has(ref))
  const backoff = isError && (status === "429" || status === "503")
  const description = isError ? errorDescriptions[status] : undefined
  return {
    ...response,
    ...(description === undefined ? {} : { description }),
    headers: {
      "X-Correlation-Id": header("X-Correlation-Id"),
      ...(backoff ? { "Retry-After": header("Retry-After"), "X-Backoff-Ms": header("X-Backoff-Ms") } : {})
    }
  }
}

/**
 * The error bodies, which `fromApi` writes out in full at every status that declares one (a schema
 * annotated with a status loses its identifier): referenced from components instead.
 */
const sharedBodies = ["ErrorEnvelope", "PoolOperationFailed", "OpenAiError"]

const fingerprint = (schema: unknown): string => JSON.stringify({ ...(isRecord(schema) ? schema : {}), description: 0 })

type Shared = ReadonlyMap<string, string>

const referenced = (shared: Shared, schema: unknown): unknown => {
  if (!isRecord(schema)) return schema
  if (Array.isArray(schema.anyOf)) return { ...schema, anyOf: schema.anyOf.map((m) => referenced(shared, m)) }
  const name = shared.get(fingerprint(schema))
  return name === undefined ? schema : { $ref: schemaRef(name) }
}

const withSharedBodies = (shared: Shared, response: Json): Json => {
  const content = isRecord(response.content) ? response.content : undefined
  const json = isRecord(content?.["application/json"]) ? content["application/json"] : undefined
  if (content === undefined || json === undefined) return response
  return {
    ...response,
    content: { ...content, "application/json": { ...json, schema: referenced(shared, json.schema) } }
  }
}

const finishOperation = (shared: Shared, operation: Json): Json => {
  const responses: Json = {}
  for (const [status, declared] of [...entries(operation.responses)].sort(([a], [b]) => a.localeCompare(b))) {
    const response = withSharedBodies(shared, declared)
    const kept = status === "400" ? withoutDecodeError(response) : response
    if (kept !== undefined) responses[status] = finishResponse(status, kept)
  }
  // the routes that can answer 401 are those the token guards
  const security = "401" in responses ? [{ [bearerScheme]: [] }] : []
  return { ...operation, responses, security }
}

/**
 * The schema without the `$id`s `fromApi` marks unknown values with (`/schemas/unknown`): the same
 * `$id` at several places makes the document invalid JSON Schema.
 */
const withoutMarkerIds = (json: unknown): unknown => {
  if (Array.isArray(json)) return json.map(withoutMarkerIds)
  if (!isRecord(json)) return json
  const out: Json = {}
  for (const [key, value] of Object.entries(json)) {
    if (key === "$id" && typeof value === "string" && value.startsWith("/schemas/")) continue
    out[key] = withoutMarkerIds(value)
  }
  return out
}

/** The framework's decode error and what only it references. */
const decodeErrorSchemas = ["HttpApiDecodeError", "Issue", "PropertyKey"]

/**
 * The `OpenApi.Transform` of the whole document.
 */
export const finishDocument = (spec: Json): Json => {
  const components = isRecord(spec.components) ? spec.components : {}
  const declared = isRecord(components.schemas) ? components.schemas : {}
  const shared: Shared = new Map(sharedBodies.map((name) => [fingerprint(declared[name]), name]))
  const paths: Json = {}
  for (const [path, item] of entries(spec.paths)) {
    paths[path] = Object.fromEntries(
      entries(item).map(([method, operation]) => [method, finishOperation(shared, operation)])
    )
  }
  const schemas = Object.fromEntries(
    entries(components.schemas).filter(([name]) => !decodeErrorSchemas.includes(name))
  )
  return {
    ...spec,
    paths: withoutMarkerIds(paths),
    components: {
      ...components,
      schemas: withoutMarkerIds(schemas),
      headers,
      securitySchemes: {
        [bearerScheme]: {
          type: "http",
          scheme: "bearer",
          description: "The token orchestratord is configured with (ORCHESTRATORD_TOKEN, " +
            "ORCHESTRATORD_TOKEN_FILE, the credential orchestratord.token, token or token_file); without one, " +
            "no route asks for it. /health, /ready, /metrics, /openapi.json and /docs never do."
        }
      }
    }
  }
}
