/**
 * `llama-orch tasks submit|get|cancel|events`.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as Command from "@effect/cli/Command"
import * as Options from "@effect/cli/Options"
import * as CommandLine from "@llama-orch/daemon-kit/CommandLine"
import { Priority } from "@llama-orch/orchestrator-core"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { OperationFailed, TaskFailed } from "./CliError.js"
import * as Connection from "./Connection.js"
import { OrchestratorClient } from "./OrchestratorClient.js"
import { duration, jsonOption, print, printJson, table } from "./Render.js"
import * as TaskEvents from "./TaskEvents.js"
import { TaskAccepted, TaskStatus } from "./WireSchemas.js"

const taskArg = Args.text({ name: "TASK" }).pipe(Args.withDescription("the task's id"))

const taskRoute = (taskId: string, action = "") => `/v2/tasks/${encodeURIComponent(taskId)}${action}`

const cancelTask = (taskId: string) =>
  Effect.flatMap(OrchestratorClient, (client) => client.post(taskRoute(taskId, "/cancel"), {}, Schema.Void))

/**
 * Follows a task's events: tokens to stdout as they come (or every event as a JSON line). Done at
 * `end`; `TaskFailed` at `failed`; `OperationFailed` when the stream ends before either.
 */
const follow = (taskId: string, json: boolean) =>
  TaskEvents.events(taskId).pipe(
    Stream.tap(({ event, raw }) =>
      json ? printJson(raw) : event._tag === "token"
        ? Effect.sync(() => process.stdout.write(event.t))
        : event._tag === "end"
        ? Effect.sync(() => process.stdout.write("\n"))
        : Effect.void
    ),
    Stream.runLast,
    Effect.flatMap((last): Effect.Effect<void, TaskFailed | OperationFailed> => {
      const event = Option.map(last, (received) => received.event)
      if (Option.isSome(event) && event.value._tag === "end") return Effect.void
      if (Option.isSome(event) && event.value._tag === "failed") {
        return Effect.fail(new TaskFailed({ taskId, code: event.value.code, detail: event.value.message }))
      }
      return Effect.fail(
        new OperationFailed({ detail: `the event stream of task ${taskId} ended before the task did` })
      )
    })
  )

const submit = Command.make(
  "submit",
  {
    connection: Connection.options,
    json: jsonOption,
    model: Options.text("model").pipe(Options.withDescription("the model to run the prompt on (model_ref)")),
    maxTokens: CommandLine.integer("max-tokens", { min: 1 }).pipe(
      Options.withDescription("the most tokens to generate"),
      Options.withDefault(256)
    ),
    priority: Options.choice("priority", Priority.literals).pipe(Options.optional),
    session: Options.text("session").pipe(
      Options.withDescription("a session id, for KV-cache affinity"),
      Options.optional
    ),
    prompt: Args.text({ name: "PROMPT" })
  },
  ({ connection, json, maxTokens, model, priority, prompt, session }) =>
    Effect.gen(function*() {
      const client = yield* OrchestratorClient
      const body = {
        model_ref: model,
        prompt,
        max_tokens: maxTokens,
        ...Option.match(priority, { onNone: () => ({}), onSome: (p) => ({ priority: p }) }),
        ...Option.match(session, { onNone: () => ({}), onSome: (s) => ({ session_id: s }) })
      }
      const accepted = yield* client.post("/v2/tasks", body, TaskAccepted)
      const taskId = accepted.value.task_id
      if (json) yield* printJson({ event: "accepted", data: accepted.body })
      // Ctrl-C interrupts the stream: the task is cancelled on the server before the program ends
      yield* follow(taskId, json).pipe(
        Effect.onInterrupt(() =>
          cancelTask(taskId).pipe(
            Effect.zipRight(Console.error(`llama-orch: cancelled task ${taskId}`)),
            Effect.catchAll((error) => Console.error(`llama-orch: could not cancel task ${taskId}: ${error.message}`))
          )
        )
      )
    }).pipe(Connection.withClient(connection))
).pipe(Command.withDescription("Submit a prompt and stream the answer's tokens to stdout (Ctrl-C cancels the task)"))

const get = Command.make(
  "get",
  { connection: Connection.options, json: jsonOption, task: taskArg },
  ({ connection, json, task }) =>
    Effect.gen(function*() {
      const client = yield* OrchestratorClient
      const answer = yield* client.get(taskRoute(task), TaskStatus)
      const t = answer.value
      const took = (from: number | undefined, to: number | undefined) =>
        from === undefined || to === undefined ? "" : duration(to - from)
      yield* print(json, answer.body, () =>
        table(
          ["TASK", "STATE", "MODEL", "POOL", "QUEUE", "TOKENS IN/OUT", "WAITED", "RAN", "ERROR"],
          [[
            t.task_id,
            t.state,
            t.model_ref,
            t.pool_id ?? "-",
            t.queue_position === undefined ? "-" : String(t.queue_position),
            `${t.tokens_in}/${t.tokens_out}`,
            took(t.submitted_at_ms, t.started_at_ms),
            took(t.started_at_ms, t.ended_at_ms),
            t.error_code ?? ""
          ]]
        ))
    }).pipe(Connection.withClient(connection))
).pipe(Command.withDescription("Show a task's state and counts"))

const cancel = Command.make(
  "cancel",
  { connection: Connection.options, task: taskArg },
  ({ connection, task }) =>
    cancelTask(task).pipe(
      Effect.zipRight(Console.log(`cancelled task ${task}`)),
      Connection.withClient(connection)
    )
).pipe(Command.withDescription("Cancel a queued or running task"))

const events = Command.make(
  "events",
  { connection: Connection.options, json: jsonOption, task: taskArg },
  ({ connection, json, task }) =>
    TaskEvents.events(task).pipe(
      Stream.runForEach(({ raw }) =>
        json ? printJson(raw) : Console.log(`${raw.event.padEnd(8)} ${JSON.stringify(raw.data)}`)
      ),
      Connection.withClient(connection)
    )
).pipe(Command.withDescription("Print a task's events as they come, from its first"))

/**
 * `llama-orch tasks …`.
 *
 * @since 0.1.0
 */
export const command = Command.make("tasks").pipe(
  Command.withDescription("Tasks: submit, get, cancel, events"),
  Command.withSubcommands([submit, get, cancel, events])
)
