/**
 * A stand-in `nvidia-smi` for machines without an NVIDIA GPU: an executable shell script, put first
 * on `PATH` for the test's scope, that answers the two queries pool-core makes in nvidia-smi's real
 * CSV format from files the test writes (`gpus.csv`, `apps.csv`), rejects any other invocation as
 * nvidia-smi does, and fails like a machine whose driver is not loaded when `failure.txt` exists.
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Effect } from "effect"
import * as NodeProcess from "node:process"

const script = `#!/bin/sh
here=$(dirname "$0")
if [ "$2" != "--format=csv,noheader,nounits" ] || [ "$#" -ne 2 ]; then
  echo "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help."
  exit 2
fi
if [ -f "$here/failure.txt" ]; then cat "$here/failure.txt"; exit 9; fi
case "$1" in
  --query-gpu=index,memory.total) cat "$here/gpus.csv" ;;
  --query-compute-apps=pid,used_memory) [ -f "$here/apps.csv" ] && cat "$here/apps.csv" ;;
  *) echo "Field \\"\${1#*=}\\" is not a valid field to query."; exit 2 ;;
esac
exit 0
`

/** The driver-less failure nvidia-smi prints on stdout (exit code 9). */
export const driverFailure = "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. " +
  "Make sure that the latest NVIDIA driver is installed and running."

/** Controls of the stub in scope. */
export interface NvidiaSmiStub {
  readonly setGpus: (csv: string) => Effect.Effect<void>
  readonly setApps: (csv: string) => Effect.Effect<void>
  readonly setFailure: (stdout: string) => Effect.Effect<void>
}

/** Puts `dir` first on `PATH` for the scope (or makes `PATH` only `dir` when `only`). */
export const prependPath = (dir: string, only = false) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const before = NodeProcess.env["PATH"]
      NodeProcess.env["PATH"] = only ? dir : `${dir}:${before ?? ""}`
      return before
    }),
    (before) =>
      Effect.sync(() => {
        NodeProcess.env["PATH"] = before
      })
  )

/** Installs the stub for the scope (GPU list initially empty). */
export const nvidiaSmiStub = Effect.gen(function*() {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const dir = yield* fs.makeTempDirectoryScoped({ prefix: "nvidia-smi-stub-" })
  yield* fs.writeFileString(path.join(dir, "nvidia-smi"), script, { mode: 0o755 })
  yield* fs.writeFileString(path.join(dir, "gpus.csv"), "")
  yield* prependPath(dir)
  const write = (name: string) => (text: string) => fs.writeFileString(path.join(dir, name), text).pipe(Effect.orDie)
  const stub: NvidiaSmiStub = {
    setGpus: write("gpus.csv"),
    setApps: write("apps.csv"),
    setFailure: write("failure.txt")
  }
  return stub
})
