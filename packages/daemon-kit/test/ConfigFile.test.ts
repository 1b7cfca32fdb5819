import { FileSystem } from "@effect/platform"
import { NodeContext } from "@effect/platform-node"
import { describe, expect, it } from "@effect/vitest"
import { ConfigFile } from "@llama-orch/daemon-kit"
import { Effect, FastCheck, Schema } from "effect"

const Engine = Schema.Struct({
  name: Schema.NonEmptyString,
  command: Schema.NonEmptyString
})
const Daemon = Schema.Struct({
  host: Schema.optionalWith(Schema.String, { default: () => "127.0.0.1" }),
  port: Schema.optionalWith(Schema.Int.pipe(Schema.between(0, 65535)), { default: () => 9200 }),
  drain_deadline_ms: Schema.optional(Schema.Int.pipe(Schema.nonNegative())),
  engines: Schema.optionalWith(Schema.Array(Engine), { default: () => [] })
})

const decode = (input: unknown) => Effect.flip(ConfigFile.decodeConfig(Daemon, input, "daemon.yaml"))

describe("ConfigFile", () => {
  it.effect("decodes a valid document with defaults", () =>
    Effect.gen(function*() {
      const text = "# only comments\n"
      const value = yield* ConfigFile.parseYaml(text, "x.yaml").pipe(
        Effect.flatMap((input) => ConfigFile.decodeConfig(Daemon, input, "x.yaml"))
      )
      expect(value).toEqual({ host: "127.0.0.1", port: 9200, engines: [] })
    }))

  it.effect.prop(
    "a bad port is reported with its field path and the file",
    [FastCheck.oneof(FastCheck.integer({ min: 65536 }), FastCheck.integer({ max: -1 }), FastCheck.string())],
    ([port]) =>
      Effect.gen(function*() {
        const error = yield* decode({ port })
        expect(error.source).toBe("daemon.yaml")
        expect(error.issues.map((i) => i.path)).toEqual(["port"])
        expect(error.message).toContain("daemon.yaml")
        expect(error.message).toContain("port:")
      })
  )

  it.effect.prop(
    "a bad nested field is named by its full path",
    [FastCheck.nat({ max: 4 }), FastCheck.constantFrom("name", "command")],
    ([index, field]) =>
      Effect.gen(function*() {
        const engines = Array.from({ length: index + 1 }, (_, i) => ({ name: `e${i}`, command: "run" }))
        engines[index] = { ...engines[index]!, [field]: "" }
        const error = yield* decode({ engines })
        expect(error.issues.map((i) => i.path)).toEqual([`engines.${index}.${field}`])
      })
  )

  it.effect("reports every bad field, and unknown keys", () =>
    Effect.gen(function*() {
      const error = yield* decode({ port: "x", drain_deadline_ms: -1, drainDeadlineMs: 5 })
      expect(error.issues.map((i) => i.path).sort()).toEqual(["drainDeadlineMs", "drain_deadline_ms", "port"])
    }))

  it.effect("a bad value of a union is one issue naming every alternative", () =>
    Effect.gen(function*() {
      const Mode = Schema.Struct({ mode: Schema.Literal("fast", "safe") })
      const error = yield* Effect.flip(ConfigFile.decodeConfig(Mode, { mode: "slow" }, "m.yaml"))
      expect(error.issues).toHaveLength(1)
      expect(error.issues[0]?.path).toBe("mode")
      expect(error.issues[0]?.message).toContain("\"fast\"")
      expect(error.issues[0]?.message).toContain("\"safe\"")
    }))

  it.effect("a YAML syntax error names the file", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ConfigFile.parseYaml("port: [1, 2\nhost: x", "broken.yaml"))
      expect(error.message).toContain("broken.yaml")
      expect(error.issues.length).toBeGreaterThan(0)
    }))

  it.scoped("loads a file and names it in errors, including a missing one", () =>
    Effect.gen(function*() {
      const fs = yield* FileSystem.FileSystem
      const dir = yield* fs.makeTempDirectoryScoped()
      const good = `${dir}/good.yaml`
      yield* fs.writeFileString(good, "port: 0\nengines:\n  - name: mock\n    command: node\n")
      const value = yield* ConfigFile.loadYamlFile(Daemon, good)
      expect(value.port).toBe(0)
      expect(value.engines).toEqual([{ name: "mock", command: "node" }])

      const bad = `${dir}/bad.yaml`
      yield* fs.writeFileString(bad, "engines:\n  - name: mock\n")
      const error = yield* Effect.flip(ConfigFile.loadYamlFile(Daemon, bad))
      expect(error.message).toContain(bad)
      expect(error.issues.map((i) => i.path)).toEqual(["engines.0.command"])

      const missing = yield* Effect.flip(ConfigFile.loadYamlFile(Daemon, `${dir}/nope.yaml`))
      expect(missing.message).toContain(`${dir}/nope.yaml`)
    }).pipe(Effect.provide(NodeContext.layer)))
})
