/**
 * Starting an engine for a pool (spawn, probe until Ready or failure) and promoting a started
 * engine to the pool's serving engine (new generation, handoff, event).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as NodeCrypto from "node:crypto"
import type { EngineProfile } from "../EngineProfile.js"
import { PreloadFailed } from "../PoolErrors.js"
import { type FailureKind, Handoff } from "../PoolStatus.js"
import { commit, current, type ManagerContext, type Pool, type PoolCell, type Publisher, update } from "./context.js"
import { describeExit, engineEnv, renderArgs, spawnEngine } from "./engineProcess.js"
import { freePort } from "./freePort.js"
import { LifecycleEvent } from "./lifecycle.js"
import { progressOf } from "./loadProgress.js"
import { type ActiveEngine, advance } from "./poolState.js"
import { awaitReady, httpProbe } from "./probes.js"

/**
 * Whether a profile starts its engines with an API key: `{api_key}` in its arguments, or in its
 * environment (`LLAMA_API_KEY: "{api_key}"` for llama-server, `VLLM_API_KEY` for vLLM), which keeps
 * the key out of the process list.
 */
export const usesApiKey = (profile: EngineProfile): boolean =>
  [...profile.args, ...Object.values(profile.env ?? {})].some((value) => value.includes("{api_key}"))

/** The base URL of an engine on `host:port`. */
export const engineUrl = (host: string, port: number): string =>
  host.includes(":") ? `http://[${host}]:${port}` : `http://${host}:${port}`

/** The file-system path (or name) the `{model}` placeholder gets: resolved under `modelDir` when one is set. */
export const resolveModel = (ctx: ManagerContext, model: string): string | undefined => {
  const modelDir = ctx.options.modelDir
  if (modelDir === undefined) return model
  const root = ctx.path.resolve(modelDir)
  const resolved = ctx.path.resolve(root, model)
  const relative = ctx.path.relative(root, resolved)
  return relative === "" || relative.startsWith("..") || ctx.path.isAbsolute(relative) ? undefined : resolved
}

/** A health probe of an engine at `url`. */
export const probeOf = (ctx: ManagerContext, pool: Pool, url: string): Effect.Effect<boolean> =>
  httpProbe(ctx.http, url + pool.profile.healthPath, ctx.options.probeTimeoutMs)

/** How to launch: which pidfile name, and whether the spec's fixed port may be used. */
export interface LaunchOptions {
  readonly model: string
  readonly pidfileKey: string
  /** Use a free port even when the spec fixes one (the surge engine runs beside the old one). */
  readonly forceFreePort: boolean
}

/**
 * Spawns an engine for `pool` and waits until its health probe answers 200. On failure the process
 * is stopped and a `PreloadFailed` says why (with the stderr tail). The pool's state is not
 * changed here.
 */
export const launch = (
  ctx: ManagerContext,
  pool: Pool,
  options: LaunchOptions
): Effect.Effect<ActiveEngine, PreloadFailed> =>
  Effect.gen(function*() {
    const config = ctx.options
    const { profile, spec } = pool
    const fail = (kind: FailureKind, reason: string, details?: { exitCode?: number; stderrTail?: string }) =>
      new PreloadFailed({ poolId: pool.id, engine: profile.name, kind, reason, ...details })
    if (yield* ctx.closing) {
      return yield* fail("SpawnFailed", "the pool manager is shutting down")
    }
    const modelPath = resolveModel(ctx, options.model)
    if (modelPath === undefined) {
      return yield* fail("SpawnFailed", `model ${options.model} is outside the model directory`)
    }
    const port = spec.port !== undefined && !options.forceFreePort
      ? spec.port
      : yield* freePort(config.host).pipe(
        Effect.mapError((error) => fail("SpawnFailed", `no free port on ${config.host}: ${error.message}`))
      )
    // a fresh key per engine process, when the profile passes one to the engine
    const apiKey = usesApiKey(profile) ? Redacted.make(NodeCrypto.randomBytes(24).toString("base64url")) : undefined
    const vars = {
      model: modelPath,
      host: config.host,
      port: String(port),
      slots: String(spec.slots),
      ctx: String(spec.ctxMax),
      deviceMask: spec.deviceMask ?? "",
      device: spec.deviceMask ?? "",
      poolId: pool.id,
      ...(apiKey === undefined ? {} : { api_key: Redacted.value(apiKey) })
    }
    const args = renderArgs([...profile.args, ...(spec.args ?? [])], vars)
    const profileEnv = profile.env === undefined
      ? undefined
      : Object.fromEntries(
        Object.entries(profile.env).map(([name, value]) => [name, renderArgs([value], vars)[0] ?? value])
      )
    const version = yield* Effect.fork(ctx.engineVersion(profile))
    const process = yield* spawnEngine(ctx, {
      poolId: pool.id,
      profile,
      args,
      env: engineEnv(profileEnv, spec.env, spec.deviceMask),
      port,
      stopGraceMs: config.stopGraceMs,
      pidfileKey: options.pidfileKey
    }, pool.engines)
    yield* Effect.logInfo(`engine started (pid ${process.pid}, port ${port}, model ${options.model})`)
    const url = engineUrl(config.host, port)
    const timeoutMs = spec.startupTimeoutMs ?? config.startupTimeoutMs
    const loadKey = `${profile.name}\u0000${options.model}`
    const since = yield* Clock.currentTimeMillis
    yield* reportLoading(ctx, pool, process.stderrTail, since, ctx.loadTimes.get(loadKey))
    yield* Effect.raceFirst(
      awaitReady({ probe: probeOf(ctx, pool, url), exited: process.exited, timeoutMs }),
      reportLoading(ctx, pool, process.stderrTail, since, ctx.loadTimes.get(loadKey)).pipe(
        Effect.delay(config.progressIntervalMs),
        Effect.forever
      )
    ).pipe(
      Effect.tap(() => Effect.map(Clock.currentTimeMillis, (now) => ctx.loadTimes.set(loadKey, now - since))),
      Effect.tapErrorCause(() =>
        commit(
          ctx,
          pool,
          "loading-ended",
          (data) => [undefined, data.loading === undefined ? undefined : { ...data, loading: undefined }]
        )
      ),
      Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : process.stop),
      Effect.catchAll((failure) =>
        Effect.flatMap(process.stderrTail, (stderrTail) =>
          failure._tag === "Exited"
            ? fail("EngineExited", `the engine ${describeExit(failure.exit)} before it was ready`, {
              ...(failure.exit.exitCode === undefined ? {} : { exitCode: failure.exit.exitCode }),
              stderrTail
            })
            : fail("StartupTimeout", `no successful health probe within ${failure.timeoutMs} ms`, { stderrTail }))
      )
    )
    return {
      process,
      replicaId: `${pool.id}-${NodeCrypto.randomUUID().slice(0, 8)}`,
      url,
      model: options.model,
      engineVersion: yield* Fiber.join(version),
      apiKey,
      pidfileKey: options.pidfileKey
    }
  }).pipe(Effect.annotateLogs({ pool_id: pool.id, engine: pool.profile.name }))

/**
 * Makes `engine` the pool's serving engine: generation + 1, handoff written to its file and
 * published with the status (state Ready). Returns the handoff.
 */
export const promote = (
  ctx: ManagerContext,
  pool: Pool,
  engine: ActiveEngine,
  reason: string,
  options: { readonly restarted: boolean }
): Effect.Effect<Handoff> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const generation = (yield* current(pool)).generation + 1
    const handoff = new Handoff({
      poolId: pool.id,
      replicaId: engine.replicaId,
      engine: pool.profile.name,
      protocol: pool.profile.protocol,
      engineVersion: engine.engineVersion,
      url: engine.url,
      pid: engine.process.pid,
      slotsTotal: pool.spec.slots,
      ctxMax: pool.spec.ctxMax,
      deviceMask: pool.spec.deviceMask,
      model: engine.model,
      generation,
      readyAt: DateTime.unsafeMake(now)
    })
    yield* ctx.files.writeHandoff(handoff)
    yield* update(ctx, pool, reason, (data) => ({
      ...data,
      state: advance(data.state, LifecycleEvent.Ready()),
      model: engine.model,
      draining: false,
      generation,
      engine,
      handoff,
      restarts: data.restarts + (options.restarted ? 1 : 0),
      nextRestartAt: undefined,
      readySince: now,
      engineVersion: engine.engineVersion,
      loading: undefined
    }))
    yield* Effect.logInfo(`pool ready (generation ${generation}, ${engine.url})`)
    return handoff
  }).pipe(Effect.annotateLogs({ pool_id: pool.id, engine: pool.profile.name }))

/** How often a load's progress is logged (it is published at every report). */
const logEveryMs = 5_000

/**
 * Publishes how far an engine's load has come (`loading` in the pool's status), and logs it at
 * info every `logEveryMs`.
 */
const reportLoading = (
  ctx: ManagerContext,
  pool: Pool,
  stderrTail: Effect.Effect<string>,
  since: number,
  expectedMs: number | undefined
): Effect.Effect<void> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    const { fraction, progress } = progressOf(yield* stderrTail)
    const elapsedMs = now - since
    const previous = pool.data.current.loading
    yield* update(ctx, pool, "loading", (data) => ({
      ...data,
      loading: { since, elapsedMs, progress, fraction, expectedMs }
    }))
    // logged at the first report after the start, then every `logEveryMs`
    const logged = previous !== undefined && previous.elapsedMs > 0 &&
      Math.floor(previous.elapsedMs / logEveryMs) === Math.floor(elapsedMs / logEveryMs)
    if (logged || elapsedMs === 0) return
    const left = expectedMs === undefined
      ? ""
      : `, about ${Math.ceil(Math.max(0, expectedMs - elapsedMs) / 1000)} s left`
    const done = fraction === undefined ? "" : `, ${Math.round(fraction * 100)}%`
    yield* Effect.logInfo(`engine loading: ${(elapsedMs / 1000).toFixed(1)} s${done}${left}`).pipe(
      Effect.annotateLogs({
        elapsed_ms: elapsedMs,
        ...(progress === undefined ? {} : { engine_progress: progress }),
        ...(expectedMs === undefined ? {} : { expected_ms: expectedMs })
      })
    )
  })

/** Marks the pool Starting (an engine is being launched for it). */
export const markStarting = (ctx: Publisher, pool: PoolCell, reason: string, model: string): Effect.Effect<void> =>
  update(ctx, pool, reason, (data) => ({
    ...data,
    state: advance(data.state, LifecycleEvent.Start()),
    model,
    nextRestartAt: undefined
  }))
