/** A local pool-managerd for the demo and the test: one mock-engine profile, a temporary state dir. */
import { FileSystem, Path } from "@effect/platform"
import { SpawnDaemon } from "@llama-orch/daemon-kit"
import { Effect, Redacted } from "effect"
import { createRequire } from "node:module"

const daemonEntry = (path: Path.Path) =>
  path.join(
    path.dirname(createRequire(import.meta.url).resolve("@llama-orch/pool-managerd/package.json")),
    "src/bin.ts"
  )

/** Starts pool-managerd on 127.0.0.1 with a free port and `token`; stopped when the scope closes. */
export const startDemoDaemon = (token: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const dir = yield* fs.makeTempDirectoryScoped({ prefix: "remote-watch-" })
    const config = path.join(dir, "pool-managerd.yaml")
    yield* fs.writeFileString(
      config,
      [
        "host: 127.0.0.1",
        `token: ${JSON.stringify(Redacted.value(token))}`,
        "allow_remote_register: true",
        "engines:",
        "  - name: mock",
        "    mock: true"
      ]
        .join("\n")
    )
    return yield* SpawnDaemon.spawnDaemon({
      entry: daemonEntry(path),
      args: ["--config", config, "--port", "0", "--state-dir", path.join(dir, "state")]
    })
  })
