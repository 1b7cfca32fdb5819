/**
 * Where a model goes and what must leave for it: the device with the most free memory that fits
 * it, else the device that fits it after evicting the fewest idle models, least recently used
 * first. Never evicted: a model whose pool holds a lease, one loaded less than its minimum
 * residency ago, one the caller keeps, one pinned with `keepLoaded`.
 *
 * @internal
 */
import * as DeviceLedger from "../DeviceLedger.js"

/** A loaded model that might be evicted. */
export interface Resident {
  readonly modelId: string
  readonly lastUsedAt: number
  readonly loadedAt: number
  readonly activeLeases: number
  readonly keepLoaded: boolean
  readonly minResidencyMs: number
}

/** What to do for a load: the models to evict first (in order), or why it cannot fit. */
export type Placement =
  | { readonly _tag: "Fits"; readonly victims: ReadonlyArray<Resident> }
  | { readonly _tag: "Blocked"; readonly device: string | undefined; readonly freeMb: number; readonly reason: string }

/** Why a resident may not be evicted now, or `undefined` when it may. */
const blocker = (resident: Resident, keep: ReadonlySet<string>, now: number): string | undefined =>
  resident.activeLeases > 0
    ? "has leases"
    : resident.keepLoaded
    ? "is pinned with keep_loaded"
    : keep.has(resident.modelId)
    ? "has queued work (keep)"
    : now - resident.loadedAt < resident.minResidencyMs
    ? "is within its minimum residency"
    : undefined

/**
 * Plans a load needing `needMb` (pinned to `pinned` when set) among `residents`, whose
 * reservations (keyed by model id) are in `ledger`. The reservation itself is `DeviceLedger.reserve`'s,
 * once the victims are gone.
 */
export const place = (
  ledger: DeviceLedger.DeviceLedger,
  needMb: number,
  pinned: string | undefined,
  residents: ReadonlyArray<Resident>,
  keep: ReadonlySet<string>,
  now: number
): Placement => {
  if (!DeviceLedger.accounts(ledger) || needMb === 0) return { _tag: "Fits", victims: [] }
  const devices = DeviceLedger.usage(ledger).filter((usage) => pinned === undefined || usage.deviceId === pinned)
  if (devices.length === 0) {
    return { _tag: "Blocked", device: pinned, freeMb: 0, reason: `no device is named ${pinned}` }
  }
  let best: { victims: Array<Resident>; free: number } | undefined
  let blocked: { device: string; free: number; reason: string } | undefined
  for (const device of devices) {
    const victims: Array<Resident> = []
    const blockers: Array<string> = []
    let freed = device.freeMb
    const onDevice = residents
      .filter((r) => DeviceLedger.find(ledger, r.modelId)?.deviceId === device.deviceId)
      .sort((a, b) => a.lastUsedAt - b.lastUsedAt)
    for (const resident of onDevice) {
      if (freed >= needMb) break
      const why = blocker(resident, keep, now)
      if (why === undefined) {
        victims.push(resident)
        freed += DeviceLedger.find(ledger, resident.modelId)?.mb ?? 0
      } else {
        blockers.push(`${resident.modelId} ${why}`)
      }
    }
    if (freed >= needMb) {
      const better = best === undefined || victims.length < best.victims.length ||
        (victims.length === best.victims.length && device.freeMb > best.free)
      if (better) best = { victims, free: device.freeMb }
    } else if (blocked === undefined || device.freeMb > blocked.free) {
      const reason = needMb > device.totalMb
        ? `the model is larger than the device (${device.totalMb} MiB)`
        : blockers.length === 0
        ? "nothing else can be evicted"
        : `not evicted: ${blockers.join("; ")}`
      blocked = { device: device.deviceId, free: device.freeMb, reason }
    }
  }
  if (best !== undefined) return { _tag: "Fits", victims: best.victims }
  const why = blocked ?? { device: undefined, free: 0, reason: "no device" }
  return { _tag: "Blocked", device: why.device, freeMb: why.free, reason: why.reason }
}
