/**
 * Reading deploy/kubernetes the way `kubectl apply -k` would: the kustomization's `resources:`
 * resolved by hand (no kustomize here), each YAML document checked against the Kubernetes API
 * schemas of `kubernetes-models`, and typed accessors for the consistency checks.
 */
import { DaemonSet, Deployment } from "kubernetes-models/apps/v1"
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1"
import { PodDisruptionBudget } from "kubernetes-models/policy/v1"
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from "kubernetes-models/v1"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Yaml from "yaml"

/** The folder of the kustomization. */
export const kubernetesDir = fileURLToPath(new URL("../kubernetes/", import.meta.url))

/** One document of a manifest file. */
export interface Manifest {
  readonly file: string
  readonly doc: unknown
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The fields of kustomization.yaml this base uses; any other key is a mistake here. */
const kustomizationKeys = new Set(["apiVersion", "kind", "namespace", "labels", "resources", "images"])

/** kustomization.yaml, checked for its kind and keys, and its `resources:` (files, in order). */
export const readKustomization = (dir: string = kubernetesDir) => {
  const doc: unknown = Yaml.parse(fs.readFileSync(path.join(dir, "kustomization.yaml"), "utf8"))
  if (!isRecord(doc) || doc["kind"] !== "Kustomization") throw new Error("kustomization.yaml: not a Kustomization")
  const unknown = Object.keys(doc).filter((key) => !kustomizationKeys.has(key))
  if (unknown.length > 0) throw new Error(`kustomization.yaml: unexpected keys ${unknown.join(", ")}`)
  const resources = doc["resources"]
  if (!Array.isArray(resources) || !resources.every((r): r is string => typeof r === "string")) {
    throw new Error("kustomization.yaml: resources must be a list of files")
  }
  const namespace = doc["namespace"]
  return { resources, namespace: typeof namespace === "string" ? namespace : undefined, doc }
}

/** Every document of every resource file, parsed (a YAML error names its file). */
export const readManifests = (dir: string = kubernetesDir): ReadonlyArray<Manifest> =>
  readKustomization(dir).resources.flatMap((file) => {
    const documents = Yaml.parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8"))
    return documents.map((document) => {
      if (document.errors.length > 0) throw new Error(`${file}: ${document.errors[0]?.message ?? ""}`)
      return { file, doc: document.toJS() }
    })
  })

interface TypeMeta {
  readonly apiVersion: string
  readonly kind: string
  readonly metadata?: { readonly name?: string | undefined } | undefined
}

interface ModelClass<T extends TypeMeta> {
  readonly is: (value: unknown) => value is T
  new(data: T): { validate(): void }
}

const validator = <T extends TypeMeta>(model: ModelClass<T>) => (doc: unknown): boolean => {
  if (!model.is(doc)) return false
  new model(doc).validate()
  return true
}

/** The kinds this base may contain, each with the schema validator of its API version. */
const validators = [
  validator(Namespace),
  validator(Secret),
  validator(ConfigMap),
  validator(Service),
  validator(PersistentVolumeClaim),
  validator(DaemonSet),
  validator(Deployment),
  validator(PodDisruptionBudget),
  validator(NetworkPolicy)
]

/**
 * Checks a document against its kind's schema: throws the validator's message (field path and
 * problem) when it does not match, or when the kind/apiVersion is not one this base may use.
 */
export const validate = (manifest: Manifest): void => {
  if (!validators.some((check) => check(manifest.doc))) {
    const kind = isRecord(manifest.doc) ? `${String(manifest.doc["apiVersion"])} ${String(manifest.doc["kind"])}` : "?"
    throw new Error(`${manifest.file}: no schema for ${kind}`)
  }
}

/** The one document of a kind and name. */
export const find = <T extends TypeMeta>(
  manifests: ReadonlyArray<Manifest>,
  model: { readonly is: (value: unknown) => value is T },
  name: string
): T => {
  const found = manifests.map((m) => m.doc).filter(model.is).filter((doc) => doc.metadata?.name === name)
  if (found.length !== 1) throw new Error(`expected one ${name}, found ${found.length}`)
  const [doc] = found
  if (doc === undefined) throw new Error(`expected one ${name}`)
  return doc
}

/** Whether every `selector` label is among `labels`. */
export const selects = (
  selector: Readonly<Record<string, string>> | undefined,
  labels: Readonly<Record<string, string>> | undefined
): boolean =>
  selector !== undefined && Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([key, value]) => labels?.[key] === value)
