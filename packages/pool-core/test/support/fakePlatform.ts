/**
 * A fake process world for timing tests under `TestClock`: a `CommandExecutor` whose processes are
 * Effect values (exit when told, obey or ignore SIGTERM) and an `HttpClient` that answers health
 * probes from them. No real process is started, so every delay is driven by the test clock.
 */
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import { SystemError } from "@effect/platform/Error"
import * as HttpClient from "@effect/platform/HttpClient"
import { RequestError } from "@effect/platform/HttpClientError"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import { Context, Deferred, Effect, Inspectable, Layer, Ref, Sink, Stream } from "effect"

/** One fake process. `exit` holds its exit code, or the signal that killed it. */
export interface FakeProcess {
  readonly pid: number
  readonly port: number
  readonly args: ReadonlyArray<string>
  readonly exit: Deferred.Deferred<number | string>
  /** While false, health probes fail (connection refused). */
  readonly healthy: Ref.Ref<boolean>
}

/** The processes started so far, oldest first. */
export class FakeProcesses extends Context.Tag("test/FakeProcesses")<
  FakeProcesses,
  Ref.Ref<ReadonlyArray<FakeProcess>>
>() {}

const argAfter = (args: ReadonlyArray<string>, name: string) => {
  const i = args.indexOf(name)
  return i >= 0 ? args[i + 1] : undefined
}

// far above any real pid_max, so a signal that reached the OS by mistake could never hit a real process
const fakePidBase = 50_000_000

const toProcess = (fake: FakeProcess): CommandExecutor.Process => {
  const ignoresTerm = fake.args.includes("--ignore-sigterm")
  const ended = Stream.fromEffect(Deferred.await(fake.exit)).pipe(Stream.drain)
  return {
    [CommandExecutor.ProcessTypeId]: CommandExecutor.ProcessTypeId,
    pid: CommandExecutor.ProcessId(fake.pid),
    exitCode: Effect.flatMap(Deferred.await(fake.exit), (result) =>
      typeof result === "number"
        ? Effect.succeed(CommandExecutor.ExitCode(result))
        : Effect.fail(
          new SystemError({
            reason: "Unknown",
            module: "Command",
            method: "exitCode",
            description: `Process interrupted due to receipt of signal: ${result}`
          })
        )),
    isRunning: Effect.map(Deferred.isDone(fake.exit), (done) => !done),
    kill: (signal = "SIGTERM") =>
      (signal === "SIGTERM" && ignoresTerm ? Effect.void : Effect.asVoid(Deferred.succeed(fake.exit, signal))).pipe(
        Effect.zipRight(Deferred.await(fake.exit)),
        Effect.asVoid
      ),
    stdout: ended,
    stderr: ended,
    stdin: Sink.drain,
    toJSON: () => ({ pid: fake.pid }),
    toString: () => `FakeProcess(${fake.pid})`,
    [Inspectable.NodeInspectSymbol]: () => ({ pid: fake.pid })
  }
}

const executor = Effect.gen(function*() {
  const processes = yield* FakeProcesses
  return CommandExecutor.makeExecutor((command) =>
    Effect.gen(function*() {
      const args = command._tag === "StandardCommand" ? command.args : []
      const fake: FakeProcess = {
        pid: fakePidBase + (yield* Ref.get(processes)).length,
        port: Number(argAfter(args, "--port") ?? "0"),
        args,
        exit: yield* Deferred.make<number | string>(),
        healthy: yield* Ref.make(true)
      }
      yield* Ref.update(processes, (all) => [...all, fake])
      if (args.includes("--crash-on-start")) yield* Deferred.succeed(fake.exit, 3)
      return toProcess(fake)
    })
  )
})

const httpClient = Effect.gen(function*() {
  const processes = yield* FakeProcesses
  return HttpClient.make((request, url) =>
    Effect.gen(function*() {
      const all = yield* Ref.get(processes)
      const target = [...all].reverse().find((p) => p.port === Number(url.port))
      const refused = new RequestError({ request, reason: "Transport", description: "connection refused" })
      if (target === undefined || (yield* Deferred.isDone(target.exit))) return yield* refused
      if (target.args.includes("--hang-health")) return yield* Effect.never
      if (!(yield* Ref.get(target.healthy))) return yield* refused
      return HttpClientResponse.fromWeb(request, new Response("{}", { status: 200 }))
    })
  )
})

/** The fake executor and HTTP client, sharing one `FakeProcesses` registry (also provided). */
export const FakePlatform = Layer.mergeAll(
  Layer.effect(CommandExecutor.CommandExecutor, executor),
  Layer.effect(HttpClient.HttpClient, httpClient)
).pipe(Layer.provideMerge(Layer.effect(FakeProcesses, Ref.make<ReadonlyArray<FakeProcess>>([]))))
