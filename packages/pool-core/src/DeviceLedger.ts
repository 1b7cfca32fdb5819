/**
 * Device memory reservations: a pure, immutable ledger of what each device has promised to the
 * engines placed on it. `reserve` picks the device with the most free memory that fits (or the
 * pinned one) and reports the shortage of every candidate device when none fits; `release` frees a
 * reservation; `placement` says how an engine is pointed at its device (`CUDA_VISIBLE_DEVICES` and
 * the `{device}` argument placeholder). A ledger without devices does no accounting: everything fits.
 *
 * Hold a ledger in a `Ref`/`SynchronizedRef` to share it; trying a plan on a copy (release some
 * reservations, then reserve) never touches the original.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import { type Device, DeviceId } from "./Devices.js"

const Mb = Schema.Int.pipe(Schema.nonNegative())

/**
 * Memory promised to one engine: `key` names its holder (such as a pool id), `deviceId` is absent
 * when the ledger has no devices (no accounting).
 *
 * @category models
 * @since 0.1.0
 */
export class Reservation extends Schema.Class<Reservation>("Reservation")({
  key: Schema.String,
  deviceId: Schema.optional(DeviceId),
  mb: Mb
}) {}

/**
 * One device's memory: total, reserved and free (never below 0) in MiB.
 *
 * @category models
 * @since 0.1.0
 */
export class DeviceUsage extends Schema.Class<DeviceUsage>("DeviceUsage")({
  deviceId: DeviceId,
  totalMb: Mb,
  reservedMb: Mb,
  freeMb: Mb
}) {}

/**
 * No candidate device has `neededMb` free: `devices` lists the free memory of each candidate (only
 * the pinned one when the request was pinned).
 *
 * @category errors
 * @since 0.1.0
 */
export class DeviceShortage extends Schema.TaggedError<DeviceShortage>()("DeviceShortage", {
  key: Schema.String,
  neededMb: Mb,
  pinned: Schema.optional(DeviceId),
  devices: Schema.Array(DeviceUsage)
}) {
  /** The most free memory on any candidate device. */
  get freeMb(): number {
    return Math.max(0, ...this.devices.map((device) => device.freeMb))
  }

  override get message(): string {
    const free = this.devices.map((device) =>
      `device ${device.deviceId}: ${device.freeMb} of ${device.totalMb} MiB free`
    )
    const where = this.pinned === undefined ? "on any device" : `on device ${this.pinned} (pinned)`
    return `${this.key} needs ${this.neededMb} MiB, not free ${where} (${free.join("; ")})`
  }
}

/**
 * A reservation was pinned to a device the ledger does not know.
 *
 * @category errors
 * @since 0.1.0
 */
export class UnknownDevice extends Schema.TaggedError<UnknownDevice>()("UnknownDevice", {
  key: Schema.String,
  deviceId: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `${this.key} is pinned to device ${this.deviceId}, which is not configured (devices: ${
      this.known.join(", ") || "none"
    })`
  }
}

/**
 * The devices and the reservations on them.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeviceLedger {
  readonly devices: ReadonlyArray<Device>
  readonly reservations: ReadonlyArray<Reservation>
}

/**
 * A ledger of `devices` with nothing reserved.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (devices: ReadonlyArray<Device>): DeviceLedger => ({ devices, reservations: [] })

/**
 * Whether the ledger accounts memory at all (it has devices).
 *
 * @category utils
 * @since 0.1.0
 */
export const accounts = (ledger: DeviceLedger): boolean => ledger.devices.length > 0

const usageOf = (ledger: DeviceLedger, device: Device): DeviceUsage => {
  const reservedMb = ledger.reservations
    .filter((reservation) => reservation.deviceId === device.id)
    .reduce((sum, reservation) => sum + reservation.mb, 0)
  return new DeviceUsage({
    deviceId: device.id,
    totalMb: device.memoryMb,
    reservedMb,
    freeMb: Math.max(0, device.memoryMb - reservedMb)
  })
}

/**
 * The memory of every device, in the ledger's device order.
 *
 * @category utils
 * @since 0.1.0
 */
export const usage = (ledger: DeviceLedger): ReadonlyArray<DeviceUsage> =>
  ledger.devices.map((device) => usageOf(ledger, device))

/**
 * The reservation held under `key`, if any.
 *
 * @category utils
 * @since 0.1.0
 */
export const find = (ledger: DeviceLedger, key: string): Reservation | undefined =>
  ledger.reservations.find((reservation) => reservation.key === key)

/**
 * Frees the reservation held under `key` (nothing when there is none).
 *
 * @category utils
 * @since 0.1.0
 */
export const release = (ledger: DeviceLedger, key: string): DeviceLedger => ({
  devices: ledger.devices,
  reservations: ledger.reservations.filter((reservation) => reservation.key !== key)
})

/**
 * Reserves `needMb` under `key` (replacing what `key` held): on `device` when pinned, else on the
 * device with the most free memory that fits (the first listed on a tie). Without devices the
 * reservation always succeeds and only carries the pin.
 *
 * @category utils
 * @since 0.1.0
 */
export const reserve = (
  ledger: DeviceLedger,
  request: { readonly key: string; readonly needMb: number; readonly device?: string | undefined }
): Either.Either<readonly [Reservation, DeviceLedger], DeviceShortage | UnknownDevice> => {
  const { device, key } = request
  const needMb = Math.max(0, Math.ceil(request.needMb))
  const rest = release(ledger, key)
  const grant = (deviceId: string | undefined) => {
    const reservation = new Reservation({ key, deviceId, mb: needMb })
    return Either.right(
      [reservation, { devices: rest.devices, reservations: [...rest.reservations, reservation] }] as const
    )
  }
  if (!accounts(rest)) return grant(device)
  const candidates = device === undefined ? rest.devices : rest.devices.filter((d) => d.id === device)
  if (device !== undefined && candidates.length === 0) {
    return Either.left(new UnknownDevice({ key, deviceId: device, known: rest.devices.map((d) => d.id) }))
  }
  const usages = candidates.map((d) => usageOf(rest, d))
  const best = usages.filter((u) => u.freeMb >= needMb).reduce<DeviceUsage | undefined>(
    (chosen, u) => chosen === undefined || u.freeMb > chosen.freeMb ? u : chosen,
    undefined
  )
  return best === undefined
    ? Either.left(new DeviceShortage({ key, neededMb: needMb, pinned: device, devices: usages }))
    : grant(best.deviceId)
}

/**
 * Sets the size of the reservation under `key` to what its engine really uses, on the device it
 * already has, even beyond the device's memory (reality wins; later reservations see less free).
 * Nothing changes when `key` holds no reservation.
 *
 * @category utils
 * @since 0.1.0
 */
export const adjust = (ledger: DeviceLedger, key: string, mb: number): DeviceLedger => ({
  devices: ledger.devices,
  reservations: ledger.reservations.map((reservation) =>
    reservation.key === key
      ? new Reservation({ key, deviceId: reservation.deviceId, mb: Math.max(0, Math.ceil(mb)) })
      : reservation
  )
})

/**
 * How to point an engine at its reservation's device: `deviceMask` for `PoolSpec.deviceMask` (the
 * manager then sets `CUDA_VISIBLE_DEVICES` and fills the `{device}` placeholder), the same as `env`
 * and template `vars`. Empty when the reservation has no device.
 *
 * @category utils
 * @since 0.1.0
 */
export const placement = (reservation: Reservation): {
  readonly deviceMask: string | undefined
  readonly env: Readonly<Record<string, string>>
  readonly vars: Readonly<Record<string, string>>
} =>
  reservation.deviceId === undefined
    ? { deviceMask: undefined, env: {}, vars: {} }
    : {
      deviceMask: reservation.deviceId,
      env: { CUDA_VISIBLE_DEVICES: reservation.deviceId },
      vars: { device: reservation.deviceId }
    }
