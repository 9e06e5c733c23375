/**
 * The group's board document as Discuss reads it (shared_schema/board.json v2): the group
 * attributes (`attributes`: the server writes every field but `definition`, a Y.Text everyone
 * edits) and the canvas cards (`cards`), which attributes name as their provenance. Remote content
 * is untrusted: entries that do not fit are skipped.
 */
import * as Y from 'yjs'
import type { AttributeStatus, ExampleRef } from './rest'

export interface BoardAttribute {
  readonly id: string
  readonly name: string
  readonly definition: Y.Text
  readonly examples: readonly ExampleRef[]
  readonly provenance: readonly string[]
  readonly status: AttributeStatus
  readonly mergedInto: string
  readonly splitFrom: string
  readonly version: number
  readonly createdBy: string
}

export interface BoardCard {
  readonly id: string
  readonly text: string
  readonly kind: string
  readonly people: number
}

const STATUSES: readonly AttributeStatus[] = ['active', 'merged', 'split', 'removed']

function str (value: unknown, max = 2000): string {
  return typeof value === 'string' ? value.slice(0, max) : ''
}

function examplesOf (value: unknown): ExampleRef[] {
  if (!Array.isArray(value)) return []
  const found: ExampleRef[] = []
  for (const item of value.slice(0, 50)) {
    if (typeof item !== 'object' || item === null) continue
    const { kind, id } = item as Record<string, unknown>
    if ((kind === 'baseline' || kind === 'message') && typeof id === 'string') found.push({ kind, id })
  }
  return found
}

function readAttribute (id: string, entry: unknown): BoardAttribute | undefined {
  if (!(entry instanceof Y.Map)) return undefined
  const definition: unknown = entry.get('definition')
  const name: unknown = entry.get('name')
  const status: unknown = entry.get('status')
  if (!(definition instanceof Y.Text) || typeof name !== 'string') return undefined
  const provenance: unknown = entry.get('provenance')
  const version: unknown = entry.get('version')
  return {
    id,
    name: name.slice(0, 120),
    definition,
    examples: examplesOf(entry.get('examples')),
    provenance: Array.isArray(provenance) ? provenance.filter((p): p is string => typeof p === 'string').slice(0, 200) : [],
    status: STATUSES.find((s) => s === status) ?? 'active',
    mergedInto: str(entry.get('mergedInto'), 40),
    splitFrom: str(entry.get('splitFrom'), 40),
    version: typeof version === 'number' && Number.isFinite(version) ? version : 1,
    createdBy: str(entry.get('createdBy'), 80),
  }
}

export function attributesMap (doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap('attributes')
}

export function cardsMap (doc: Y.Doc): Y.Map<unknown> {
  return doc.getMap('cards')
}

/** Every attribute on the board, active ones in the order they were made (by id order of the map). */
export function readAttributes (doc: Y.Doc): BoardAttribute[] {
  const found: BoardAttribute[] = []
  attributesMap(doc).forEach((entry, id) => {
    const attribute = readAttribute(id, entry)
    if (attribute !== undefined) found.push(attribute)
  })
  return found
}

export function readCards (doc: Y.Doc): BoardCard[] {
  const found: BoardCard[] = []
  cardsMap(doc).forEach((entry, id) => {
    if (!(entry instanceof Y.Map)) return
    const text: unknown = entry.get('text')
    if (typeof text !== 'string' || text.trim() === '') return
    const people: unknown = entry.get('people')
    found.push({ id, text: text.slice(0, 500), kind: str(entry.get('kind'), 20), people: typeof people === 'number' ? people : 0 })
  })
  return found.sort((a, b) => a.text.localeCompare(b.text))
}
