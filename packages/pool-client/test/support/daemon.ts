/** A real pool-managerd process for tests: a config file in a temporary directory, then the daemon. */
import { FileSystem, Path } from "@effect/platform"
import { Processes, SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect, Redacted } from "effect"
import { fileURLToPath } from "node:url"
import { catalogOptions } from "../contract/poolManagerContract.js"
import { contractProfileFields } from "./engine.js"

const entry = fileURLToPath(new URL("../../../../apps/pool-managerd/src/bin.ts", import.meta.url))

/** A profile running the mock engine directly (reapable after a daemon crash). */
export const plainEngine = "plain"

/** Where a test daemon keeps its config and state. */
export interface DaemonHome {
  readonly configPath: string
  readonly stateDir: string
}

/** Writes a pool-managerd config (the contract engine profile, short grace periods) to a temporary directory. */
export const makeHome = (token: Redacted.Redacted<string> | undefined) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "pool-managerd-test-" })
    const stateDir = path.join(dir, "state")
    const configPath = path.join(dir, "pool-managerd.yaml")
    // YAML is a superset of JSON
    const config = {
      host: "127.0.0.1",
      ...(token === undefined ? {} : { token: Redacted.value(token) }),
      // the contract suite registers and removes pools remotely
      allow_remote_register: true,
      stop_grace_ms: 3_000,
      shutdown_deadline_ms: 3_000,
      // `plain` runs the mock engine directly: the daemon's reaper only kills engines whose
      // recorded command still matches, which the shell wrapper of the contract profile does not
      engines: [contractProfileFields, { name: plainEngine, mock: true }],
      // the contract's catalog, in the file's snake_case
      models: catalogOptions.models.map(({ footprintMb, ...model }) => ({ ...model, footprint_mb: footprintMb })),
      devices: catalogOptions.devices.map(({ id, memoryMb }) => ({ id, memory_mb: memoryMb })),
      default_min_residency_ms: catalogOptions.defaultMinResidencyMs
    }
    yield* fs.writeFileString(configPath, JSON.stringify(config, null, 2))
    return { configPath, stateDir } satisfies DaemonHome
  })

/**
 * Starts pool-managerd on `home` (port 0 unless given) for the current scope. When the scope closes
 * the daemon is stopped and the test fails if its process, or an engine it ran, is still there
 * (unless the test killed it: its next run reaps its engines).
 */
export const startDaemon = (home: DaemonHome, port = 0) =>
  Effect.gen(function*() {
    const pids: Array<number> = []
    // registered first, so it runs after the daemon's own stop finalizer
    yield* Effect.addFinalizer(() => Effect.orDie(Processes.awaitGone(pids)))
    const daemon = yield* SpawnDaemon.spawnDaemon({
      entry,
      args: ["--config", home.configPath, "--port", String(port), "--state-dir", home.stateDir],
      startTimeout: "90 seconds",
      // well past its own shutdown (3 s of drain, then 3 s for an engine to stop)
      stopGrace: "20 seconds",
      // its engines must be gone once it has stopped
      childrenGone: {}
    })
    pids.push(daemon.pid)
    return daemon
  })
