/**
 * The GPUs a pool manager places engines on, with their memory: declared in configuration, else
 * discovered with `nvidia-smi` when it is on `PATH`, else none. With no devices there is no memory
 * accounting: every model fits.
 *
 * @since 0.1.0
 */
import * as CommandExecutor from "@effect/platform/CommandExecutor"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { defaultQueryTimeoutMs, NvidiaSmiFailed, queryCsv } from "./internal/nvidiaSmi.js"

/**
 * `nvidia-smi` is on `PATH` but a query failed (exit code, stderr and the reason).
 *
 * @since 0.1.0
 */
export { NvidiaSmiFailed }

/**
 * A device id as `CUDA_VISIBLE_DEVICES` takes it: the device's index, e.g. `0`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const DeviceId = Schema.String.pipe(
  Schema.pattern(/^\d+$/, { message: () => "a device id is a device index such as 0 or 1" }),
  Schema.annotations({ identifier: "DeviceId" })
)

/**
 * One GPU: its id and its memory in MiB.
 *
 * @category models
 * @since 0.1.0
 */
export class Device extends Schema.Class<Device>("Device")({
  id: DeviceId,
  memoryMb: Schema.Int.pipe(Schema.positive())
}) {}

/**
 * A list of devices with distinct ids.
 *
 * @category schemas
 * @since 0.1.0
 */
export const DeviceList = Schema.Array(Device).pipe(
  Schema.filter((devices) => {
    const ids = devices.map((device) => device.id)
    const duplicate = ids.find((id, index) => ids.indexOf(id) !== index)
    return duplicate === undefined ? true : `device ${duplicate} is listed twice`
  }),
  Schema.annotations({ identifier: "DeviceList" })
)

/**
 * The arguments of the discovery query.
 *
 * @category utils
 * @since 0.1.0
 */
export const discoveryArgs: ReadonlyArray<string> = [
  "--query-gpu=index,memory.total",
  "--format=csv,noheader,nounits"
]

const decodeRow = Schema.decodeUnknownEither(Schema.Tuple(DeviceId, Schema.NumberFromString.pipe(Schema.int())))

/**
 * The devices in the rows of `nvidia-smi --query-gpu=index,memory.total` (`0, 24564`), or why a row
 * is not one.
 *
 * @category utils
 * @since 0.1.0
 */
export const parseDevices = (
  rows: ReadonlyArray<ReadonlyArray<string>>
): Effect.Effect<ReadonlyArray<Device>, NvidiaSmiFailed> =>
  Effect.forEach(rows, (row) =>
    decodeRow(row).pipe(
      Effect.flatMap(([id, memoryMb]) => Schema.decodeUnknown(Device)({ id, memoryMb })),
      Effect.mapError(() =>
        new NvidiaSmiFailed({
          args: discoveryArgs,
          reason: `expected "index, memory.total in MiB", got "${row.join(", ")}"`
        })
      )
    ))

/**
 * The devices `nvidia-smi` reports; none when it is not on `PATH`.
 *
 * @category utils
 * @since 0.1.0
 */
export const discover = (
  options: { readonly timeoutMs?: number } = {}
): Effect.Effect<ReadonlyArray<Device>, NvidiaSmiFailed, CommandExecutor.CommandExecutor> =>
  Effect.gen(function*() {
    const executor = yield* CommandExecutor.CommandExecutor
    const rows = yield* queryCsv(executor, discoveryArgs, options.timeoutMs ?? defaultQueryTimeoutMs)
    return Option.isNone(rows) ? [] : yield* parseDevices(rows.value)
  })

/**
 * The devices to account for: the configured ones when the configuration lists devices (an empty
 * list turns accounting off), else the discovered ones.
 *
 * @category utils
 * @since 0.1.0
 */
export const resolve = (
  configured: ReadonlyArray<Device> | undefined,
  options: { readonly timeoutMs?: number } = {}
): Effect.Effect<ReadonlyArray<Device>, NvidiaSmiFailed, CommandExecutor.CommandExecutor> =>
  configured === undefined ? discover(options) : Effect.succeed(configured)
