/**
 * The participant's records as the page shows them: the server's state with the changes not yet in
 * it applied on top (optimistically), the way the server would apply them (server/calma/reflect/ops.py).
 * Counts, excerpts, "coded" and progress are derived afterwards from the records themselves.
 *
 * A code made from a new label exists on the server only once its operation is applied (the server
 * picks its id); until then it is *provisional* here, with a local id that is never sent.
 */
import type { Annotation, Cluster, Code, Excerpt, Op, ReflectItem, ReflectProgress, ReflectState } from './rest'

export interface ViewCode extends Code {
  /** Made by a change the server has not applied yet: its id is local, not for operations. */
  readonly provisional: boolean
}

export interface ViewAnnotation extends Annotation {
  /** A change to it is waiting to be saved. */
  readonly pending: boolean
}

export interface ViewCluster extends Cluster {
  readonly pending: boolean
}

export interface ReflectView {
  readonly version: number
  readonly items: readonly ReflectItem[]
  readonly annotations: readonly ViewAnnotation[]
  readonly codes: readonly ViewCode[]
  readonly clusters: readonly ViewCluster[]
  readonly progress: ReflectProgress
}

/** Records seen before (in any state or change), so that a restore or an unmerge can be shown at once. */
export interface Known {
  readonly annotations: Map<string, Annotation>
  readonly codes: Map<string, Code>
  readonly clusters: Map<string, Cluster>
}

export function newKnown (): Known {
  return { annotations: new Map(), codes: new Map(), clusters: new Map() }
}

export function remember (known: Known, state: ReflectState): void {
  for (const a of state.annotations) known.annotations.set(a.id, a)
  for (const c of state.codes) known.codes.set(c.id, c)
  for (const c of state.clusters) known.clusters.set(c.id, c)
}

/** A label as the server keeps it: runs of whitespace made one space, trimmed. */
export function normalLabel (label: string): string {
  return label.split(/\s+/u).filter((w) => w !== '').join(' ')
}

/** Labels compared as the server does (case-blind). */
export function sameLabel (a: string, b: string): boolean {
  return normalLabel(a).toLowerCase() === normalLabel(b).toLowerCase()
}

const PROVISIONAL = 'new:'

export function isProvisional (codeId: string): boolean {
  return codeId.startsWith(PROVISIONAL)
}

interface Working {
  annotations: Map<string, Annotation>
  codes: Map<string, ViewCode>
  clusters: Map<string, Cluster>
  /** Merged code → the code it went into. */
  mergedInto: Map<string, string>
}

function working (state: ReflectState): Working {
  return {
    annotations: new Map(state.annotations.map((a) => [a.id, a])),
    codes: new Map(state.codes.map((c) => [c.id, { ...c, provisional: false }])),
    clusters: new Map(state.clusters.map((c) => [c.id, c])),
    mergedInto: new Map(),
  }
}

function codeFor (w: Working, label: string): string {
  const wanted = normalLabel(label)
  for (const code of w.codes.values()) {
    if (sameLabel(code.label, wanted)) return code.id
  }
  const id = `${PROVISIONAL}${wanted.toLowerCase()}`
  w.codes.set(id, {
    id, label: wanted, uses: 0, excerpts: [], hint: null, created_at: 0, updated_at: 0, merged: [], provisional: true,
  })
  return id
}

function unique (ids: Iterable<string>): string[] {
  return [...new Set(ids)]
}

function liveCodes (w: Working, ids: readonly string[]): string[] {
  return unique(ids.map((id) => w.mergedInto.get(id) ?? id)).filter((id) => w.codes.has(id))
}

/** Apply one operation to the working records; one that would be refused changes nothing. */
function apply (w: Working, op: Op, known: Known): void {
  switch (op.kind) {
    case 'annotation.create': {
      if (w.annotations.has(op.id)) return
      const codes = unique(op.codes.map((label) => codeFor(w, label)))
      const annotation: Annotation = {
        id: op.id, target_kind: op.target_kind, target_id: op.target_id, start: op.start, end: op.end, quote: op.quote,
        memo: op.memo ?? '', code_ids: codes, created_at: 0, updated_at: 0,
      }
      w.annotations.set(op.id, annotation)
      known.annotations.set(op.id, annotation)
      return
    }
    case 'annotation.set_codes': {
      const annotation = w.annotations.get(op.id)
      if (annotation === undefined) return
      w.annotations.set(op.id, { ...annotation, code_ids: unique(op.codes.map((label) => codeFor(w, label))) })
      return
    }
    case 'annotation.set_memo': {
      const annotation = w.annotations.get(op.id)
      if (annotation !== undefined) w.annotations.set(op.id, { ...annotation, memo: op.memo })
      return
    }
    case 'annotation.delete': {
      const annotation = w.annotations.get(op.id)
      if (annotation === undefined) return
      known.annotations.set(op.id, annotation)
      w.annotations.delete(op.id)
      return
    }
    case 'annotation.restore': {
      const annotation = known.annotations.get(op.id)
      if (annotation !== undefined && !w.annotations.has(op.id)) {
        w.annotations.set(op.id, { ...annotation, code_ids: liveCodes(w, annotation.code_ids) })
      }
      return
    }
    case 'code.rename': {
      const code = w.codes.get(op.id)
      if (code === undefined) return
      const label = normalLabel(op.label)
      const clash = [...w.codes.values()].some((c) => c.id !== op.id && sameLabel(c.label, label))
      if (!clash) w.codes.set(op.id, { ...code, label, hint: sameLabel(code.label, label) ? code.hint : null })
      return
    }
    case 'code.merge': {
      if (!w.codes.has(op.into)) return
      const merged = unique(op.ids).filter((id) => id !== op.into && w.codes.has(id))
      for (const id of merged) {
        const code = w.codes.get(id)
        if (code !== undefined) known.codes.set(id, code)
        w.codes.delete(id)
        w.mergedInto.set(id, op.into)
      }
      const into = w.codes.get(op.into)
      if (into !== undefined) w.codes.set(op.into, { ...into, merged: unique([...into.merged, ...merged]) })
      remap(w)
      return
    }
    case 'code.unmerge': {
      for (const id of op.ids) {
        const code = known.codes.get(id)
        if (code === undefined || w.codes.has(id)) continue
        w.codes.set(id, { ...code, provisional: false })
        w.mergedInto.delete(id)
        for (const [other, c] of w.codes) {
          if (c.merged.includes(id)) w.codes.set(other, { ...c, merged: c.merged.filter((m) => m !== id) })
        }
      }
      return
    }
    case 'cluster.create': {
      if (w.clusters.has(op.id)) return
      const cluster: Cluster = {
        id: op.id, name: op.name.trim(), definition: op.definition ?? '', code_ids: liveCodes(w, op.code_ids ?? []),
        created_at: 0, updated_at: 0,
      }
      w.clusters.set(op.id, cluster)
      known.clusters.set(op.id, cluster)
      return
    }
    case 'cluster.update': {
      const cluster = w.clusters.get(op.id)
      if (cluster === undefined) return
      w.clusters.set(op.id, {
        ...cluster,
        name: op.name === undefined ? cluster.name : op.name.trim(),
        definition: op.definition ?? cluster.definition,
      })
      return
    }
    case 'cluster.set_codes': {
      const cluster = w.clusters.get(op.id)
      if (cluster !== undefined) w.clusters.set(op.id, { ...cluster, code_ids: liveCodes(w, op.code_ids) })
      return
    }
    case 'cluster.merge': {
      const into = w.clusters.get(op.into)
      if (into === undefined) return
      const merged = unique(op.ids).filter((id) => id !== op.into).map((id) => w.clusters.get(id))
        .filter((c): c is Cluster => c !== undefined)
      w.clusters.set(op.into, { ...into, code_ids: unique([...into.code_ids, ...merged.flatMap((c) => c.code_ids)]) })
      for (const cluster of merged) {
        known.clusters.set(cluster.id, cluster)
        w.clusters.delete(cluster.id)
      }
      return
    }
    case 'cluster.split': {
      const cluster = w.clusters.get(op.id)
      if (cluster === undefined || w.clusters.has(op.new_id)) return
      const moving = unique(op.code_ids).filter((id) => cluster.code_ids.includes(id))
      w.clusters.set(op.id, { ...cluster, code_ids: cluster.code_ids.filter((id) => !moving.includes(id)) })
      const fresh: Cluster = {
        id: op.new_id, name: op.name.trim(), definition: op.definition ?? '', code_ids: moving, created_at: 0, updated_at: 0,
      }
      w.clusters.set(op.new_id, fresh)
      known.clusters.set(op.new_id, fresh)
      return
    }
    case 'cluster.delete': {
      const cluster = w.clusters.get(op.id)
      if (cluster === undefined) return
      known.clusters.set(op.id, cluster)
      w.clusters.delete(op.id)
      return
    }
    case 'cluster.restore': {
      const cluster = known.clusters.get(op.id)
      if (cluster !== undefined && !w.clusters.has(op.id)) {
        w.clusters.set(op.id, { ...cluster, code_ids: liveCodes(w, cluster.code_ids) })
      }
    }
  }
}

/** After a merge: annotations and clusters name the code their codes went into. */
function remap (w: Working): void {
  for (const [id, a] of w.annotations) w.annotations.set(id, { ...a, code_ids: liveCodes(w, a.code_ids) })
  for (const [id, c] of w.clusters) w.clusters.set(id, { ...c, code_ids: liveCodes(w, c.code_ids) })
}

/** Ids of the records that `ops` touch. */
function touched (ops: readonly Op[]): Set<string> {
  const ids = new Set<string>()
  for (const op of ops) {
    if ('id' in op) ids.add(op.id)
    if ('ids' in op) for (const id of op.ids) ids.add(id)
    if ('into' in op) ids.add(op.into)
    if ('new_id' in op) ids.add(op.new_id)
  }
  return ids
}

/**
 * The view: `state` with `applied` (acknowledged by the server, not yet in `state`) and `pending`
 * (waiting to be sent) changes on top, in order.
 */
export function project (state: ReflectState, applied: readonly Op[], pending: readonly Op[], known: Known): ReflectView {
  const w = working(state)
  for (const op of [...applied, ...pending]) apply(w, op, known)
  const waiting = touched(pending)
  const annotations = [...w.annotations.values()]
  const uses = new Map<string, number>()
  const excerpts = new Map<string, Excerpt[]>()
  for (const a of annotations) {
    for (const id of a.code_ids) {
      uses.set(id, (uses.get(id) ?? 0) + 1)
      const list = excerpts.get(id) ?? []
      list.push({ annotation_id: a.id, target_kind: a.target_kind, target_id: a.target_id, quote: a.quote })
      excerpts.set(id, list)
    }
  }
  const codes: ViewCode[] = [...w.codes.values()].map((c) => ({
    ...c, uses: uses.get(c.id) ?? 0, excerpts: excerpts.get(c.id) ?? [],
  }))
  const coded = new Set(annotations.map((a) => `${a.target_kind}:${a.target_id}`))
  const items = state.items.map((i) => ({ ...i, coded: coded.has(`${i.kind}:${i.id}`) }))
  const baseline = items.filter((i) => i.kind === 'baseline')
  const replies = items.filter((i) => i.kind === 'message')
  const clusters = [...w.clusters.values()].map((c) => ({ ...c, pending: waiting.has(c.id) }))
  return {
    version: state.version,
    items,
    annotations: annotations.map((a) => ({ ...a, pending: waiting.has(a.id) })),
    codes,
    clusters,
    progress: {
      responses_coded: replies.filter((i) => i.coded).length,
      responses: replies.length,
      baseline_coded: baseline.filter((i) => i.coded).length,
      baseline: baseline.length,
      codes: codes.length,
      clusters: clusters.length,
    },
  }
}
