/**
 * The ways an operation of the command line fails. Each ends the program with exit code 1 and its
 * message on stderr as one line (`llama-orch: …`); a bad command line is exit code 2.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * orchestratord answered with an error: the route, the HTTP status and the error code and message
 * of its answer.
 *
 * @since 0.1.0
 */
export class ApiError extends Schema.TaggedError<ApiError>()("ApiError", {
  route: Schema.String,
  status: Schema.Int,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `${this.route}: ${this.status} ${this.code}: ${this.detail}`
  }
}

/**
 * orchestratord could not be reached at the URL (not running, wrong `--url`), or the connection
 * broke.
 *
 * @since 0.1.0
 */
export class Unreachable extends Schema.TaggedError<Unreachable>()("Unreachable", {
  url: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `cannot reach orchestratord at ${this.url}: ${this.reason}`
  }
}

/**
 * An answer the command line cannot read: not the shape the API documents.
 *
 * @since 0.1.0
 */
export class BadAnswer extends Schema.TaggedError<BadAnswer>()("BadAnswer", {
  route: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `${this.route}: unexpected answer: ${this.reason}`
  }
}

/**
 * A task ended with a `failed` event (an engine error, a cancel, a cut stream).
 *
 * @since 0.1.0
 */
export class TaskFailed extends Schema.TaggedError<TaskFailed>()("TaskFailed", {
  taskId: Schema.String,
  code: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `task ${this.taskId} failed: ${this.code}: ${this.detail}`
  }
}

/**
 * An operation did not reach the state it waits for: a drain whose pool did not stop, a daemon
 * that refused a configuration file, an event stream that ended.
 *
 * @since 0.1.0
 */
export class OperationFailed extends Schema.TaggedError<OperationFailed>()("OperationFailed", {
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

/**
 * Any failure of an operation (exit code 1).
 *
 * @since 0.1.0
 */
export type CliError = ApiError | Unreachable | BadAnswer | TaskFailed | OperationFailed
