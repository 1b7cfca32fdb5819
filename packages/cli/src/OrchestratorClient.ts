/**
 * orchestratord's HTTP API as the command line uses it: JSON requests with the bearer token, answers
 * checked against their Schemas, error answers turned into `ApiError`, and server-sent event streams.
 *
 * @since 0.1.0
 */
import * as Sse from "@effect/experimental/Sse"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { ApiError, BadAnswer, type CliError, Unreachable } from "./CliError.js"
import { ErrorBody, OpenAiErrorBody } from "./WireSchemas.js"

/**
 * Where orchestratord is and the token it wants (none: it has none configured).
 *
 * @since 0.1.0
 */
export interface Connection {
  readonly url: string
  readonly token: Option.Option<Redacted.Redacted<string>>
}

/**
 * An answer: the value its Schema decoded, and the JSON as sent (what `--json` prints).
 *
 * @since 0.1.0
 */
export interface Answer<A> {
  readonly value: A
  readonly body: unknown
}

/**
 * The HTTP API of one orchestratord.
 *
 * @since 0.1.0
 */
export class OrchestratorClient extends Context.Tag("@llama-orch/cli/OrchestratorClient")<OrchestratorClient, {
  /** The base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string
  /** `GET route`, its answer decoded with `schema`. */
  readonly get: <A, I>(route: string, schema: Schema.Schema<A, I>) => Effect.Effect<Answer<A>, CliError>
  /** `POST route` with a JSON body, its answer decoded with `schema` (`Schema.Void`: no body). */
  readonly post: <A, I>(route: string, body: unknown, schema: Schema.Schema<A, I>) => Effect.Effect<Answer<A>, CliError>
  /** `GET route` as a stream of server-sent events; it ends when the server ends it. */
  readonly events: (route: string) => Stream.Stream<Sse.Event, CliError>
}>() {}

const decodeError = Schema.decodeUnknownEither(Schema.Union(ErrorBody, OpenAiErrorBody))

/** The `ApiError` of an error answer: its code and message, whatever envelope it used. */
const apiError = (route: string, response: HttpClientResponse.HttpClientResponse) =>
  response.text.pipe(
    Effect.orElseSucceed(() => ""),
    Effect.map((text) => {
      const body = Either.flatMap(Either.try(() => JSON.parse(text) as unknown), (json) => decodeError(json))
      if (Either.isLeft(body)) {
        return new ApiError({ route, status: response.status, code: "HTTP", detail: text.slice(0, 300) })
      }
      const error = body.right
      if ("error" in error) {
        return new ApiError({
          route,
          status: response.status,
          code: error.error.code ?? "ERROR",
          detail: error.error.message
        })
      }
      const extra = [
        error.rolled_back === true ? "rolled back to the previous model" : "",
        error.stderr_tail === undefined ? "" : `engine stderr: ${error.stderr_tail.trim().split("\n").at(-1)}`
      ].filter((s) => s !== "")
      return new ApiError({
        route,
        status: response.status,
        code: error.code,
        detail: [error.message, ...extra].join("; ")
      })
    }),
    Effect.flip
  )

/**
 * Decodes the `data:` of an event of the stream at `route` with `schema`.
 *
 * @since 0.1.0
 */
export const decodeData = <A, I>(
  route: string,
  schema: Schema.Schema<A, I>,
  data: string
): Effect.Effect<A, BadAnswer> =>
  Schema.decodeUnknown(Schema.parseJson(schema))(data).pipe(
    Effect.mapError((error) =>
      new BadAnswer({ route: `GET ${route}`, reason: ParseResult.TreeFormatter.formatErrorSync(error) })
    )
  )

/**
 * The client over an `HttpClient`.
 *
 * @since 0.1.0
 */
export const make = (connection: Connection) =>
  Effect.map(HttpClient.HttpClient, (http): Context.Tag.Service<OrchestratorClient> => {
    const base = connection.url.replace(/\/+$/, "")
    const client = http.pipe(
      HttpClient.mapRequest((request) =>
        Option.match(connection.token, {
          onNone: () => request,
          onSome: (token) => HttpClientRequest.bearerToken(request, Redacted.value(token))
        })
      )
    )
    const unreachable = (error: HttpClientError.HttpClientError) =>
      new Unreachable({ url: base, reason: error.cause instanceof Error ? error.cause.message : error.message })
    const send = (method: "GET" | "POST", route: string, body?: unknown) => {
      const name = `${method} ${route}`
      const request = method === "GET"
        ? HttpClientRequest.get(`${base}${route}`)
        : HttpClientRequest.bodyUnsafeJson(HttpClientRequest.post(`${base}${route}`), body ?? {})
      return client.execute(request).pipe(
        Effect.mapError(unreachable),
        Effect.flatMap((response) =>
          response.status >= 200 && response.status < 300 ? Effect.succeed(response) : apiError(name, response)
        )
      )
    }
    const decoded =
      <A, I>(name: string, schema: Schema.Schema<A, I>) => (response: HttpClientResponse.HttpClientResponse) =>
        (response.status === 204 ? Effect.succeed<unknown>(undefined) : response.json).pipe(
          Effect.mapError((error) => new BadAnswer({ route: name, reason: error.message })),
          Effect.flatMap((body) =>
            Schema.decodeUnknown(schema)(body).pipe(
              Effect.map((value): Answer<A> => ({ value, body })),
              Effect.mapError((error) =>
                new BadAnswer({ route: name, reason: ParseResult.TreeFormatter.formatErrorSync(error) })
              )
            )
          )
        )
    return {
      url: base,
      get: (route, schema) => Effect.flatMap(send("GET", route), decoded(`GET ${route}`, schema)),
      post: (route, body, schema) => Effect.flatMap(send("POST", route, body), decoded(`POST ${route}`, schema)),
      events: (route) =>
        send("GET", route).pipe(
          Effect.map((response) =>
            response.stream.pipe(
              Stream.mapError(unreachable),
              Stream.decodeText(),
              Stream.pipeThroughChannel(Sse.makeChannel())
            )
          ),
          Stream.unwrap
        )
    }
  })

/**
 * The client as a layer, over the `HttpClient` it is given.
 *
 * @since 0.1.0
 */
export const layer = (connection: Connection): Layer.Layer<OrchestratorClient, never, HttpClient.HttpClient> =>
  Layer.effect(OrchestratorClient, make(connection))
