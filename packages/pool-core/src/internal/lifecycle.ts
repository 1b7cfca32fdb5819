/**
 * The pool state machine as pure functions: which lifecycle event leads from which state to which,
 * what each operation does in each state, and whether a lease may be granted.
 *
 * ```
 * Registered|Stopped|Failed|Backoff --Start--> Starting --Ready--> Ready --Drain--> Draining --Stopped--> Stopped
 *                                       Starting --StartFailed--> Backoff | Failed
 *                                       Ready --EngineFailed--> Backoff | Failed
 *                                       Ready --Ready--> Ready (surge switch to a new engine)
 * ```
 *
 * @internal
 */
import * as Data from "effect/Data"
import * as Option from "effect/Option"
import type { PoolState } from "../PoolStatus.js"

/** What happens to a pool. `retry` says whether the restart policy schedules a restart (Backoff) or not (Failed). */
export type LifecycleEvent = Data.TaggedEnum<{
  Start: {}
  Ready: {}
  StartFailed: { readonly retry: boolean }
  EngineFailed: { readonly retry: boolean }
  Drain: {}
  Stopped: {}
}>

/** Constructors of `LifecycleEvent`. */
export const LifecycleEvent = Data.taggedEnum<LifecycleEvent>()

/** The next state, or `None` when the event is not allowed in `state`. */
export const transition = (state: PoolState, event: LifecycleEvent): Option.Option<PoolState> => {
  switch (event._tag) {
    case "Start":
      return state === "Registered" || state === "Stopped" || state === "Failed" || state === "Backoff"
        ? Option.some("Starting")
        : Option.none()
    case "Ready":
      return state === "Starting" || state === "Ready" ? Option.some("Ready") : Option.none()
    case "StartFailed":
      return state === "Starting" ? Option.some(event.retry ? "Backoff" : "Failed") : Option.none()
    case "EngineFailed":
      return state === "Ready" || state === "Draining"
        ? Option.some(event.retry ? "Backoff" : "Failed")
        : Option.none()
    case "Drain":
      return state === "Ready" ? Option.some("Draining") : Option.none()
    case "Stopped":
      return state === "Registered" ? Option.none() : Option.some("Stopped")
  }
}

/** What `preload` does in a state. */
export type PreloadPlan =
  /** Ready: return the current handoff. */
  | "handoff"
  /** Registered or Stopped: start the engine. */
  | "start"
  /** Backoff: cancel the scheduled restart and start now. */
  | "start-now"
  /** Failed: close the circuit (forget the failures) and start. */
  | "reset-and-start"
  /** Starting or Draining: another operation owns the pool (callers wait for it, then ask again). */
  | "busy"

/** What `preload` does in `state`. */
export const preloadPlan = (state: PoolState): PreloadPlan => {
  switch (state) {
    case "Ready":
      return "handoff"
    case "Registered":
    case "Stopped":
      return "start"
    case "Backoff":
      return "start-now"
    case "Failed":
      return "reset-and-start"
    case "Starting":
    case "Draining":
      return "busy"
  }
}

/** What `drain` does in a state. */
export type DrainPlan =
  /** Ready: stop granting leases, wait for active ones, then stop the engine. */
  | "drain"
  /** Backoff or Failed: no engine runs; cancel any scheduled restart and mark the pool Stopped. */
  | "cancel"
  /** Registered or Stopped: nothing runs; nothing to do. */
  | "noop"
  /** Starting or Draining: another operation owns the pool. */
  | "busy"

/** What `drain` does in `state`. */
export const drainPlan = (state: PoolState): DrainPlan => {
  switch (state) {
    case "Ready":
      return "drain"
    case "Backoff":
    case "Failed":
      return "cancel"
    case "Registered":
    case "Stopped":
      return "noop"
    case "Starting":
    case "Draining":
      return "busy"
  }
}

/** Why a lease is refused, or `granted`. */
export type LeaseVerdict = "granted" | "unready" | "draining" | "exhausted"

/** Whether a lease may be granted: Ready, not draining, and a slot free. */
export const leaseVerdict = (pool: {
  readonly state: PoolState
  readonly draining: boolean
  readonly activeLeases: number
  readonly slotsTotal: number
}): LeaseVerdict => {
  if (pool.draining || pool.state === "Draining") return "draining"
  if (pool.state !== "Ready") return "unready"
  if (pool.activeLeases >= pool.slotsTotal) return "exhausted"
  return "granted"
}

/** True in the states where an engine process is (or may be) running. */
export const isLive = (state: PoolState): boolean => state === "Starting" || state === "Ready" || state === "Draining"
