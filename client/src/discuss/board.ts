/**
 * The group's board documents as Discuss reads them (shared_schema/board.json v3): the group
 * attributes (the board's `attributes`, written by the server: name, the definition as of the
 * attribute's latest version, examples, provenance…), the definitions the group edits together
 * (the edits document's `definitions`: a Y.Text per attribute, created by the server, editable in
 * segment 4 only) and the canvas cards (`cards`), which attributes name as their provenance.
 * Remote content is untrusted: entries that do not fit are skipped and reported.
 */
import * as Y from 'yjs'
import { reportSkipped } from '../board'
import type { AttributeStatus, ExampleRef } from './rest'

export interface BoardAttribute {
  readonly id: string
  readonly name: string
  /** The text the group edits (the edits document's Y.Text), once the edits document has it. */
  readonly definition: Y.Text | undefined
  /** The definition as of `version` (the board's copy). */
  readonly savedDefinition: string
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

/** The words of an attribute's definition as they read now. */
export function definitionText (attribute: BoardAttribute): string {
  return attribute.definition?.toString() ?? attribute.savedDefinition
}

function readAttribute (id: string, entry: unknown, edited: unknown): BoardAttribute | undefined {
  if (!(entry instanceof Y.Map)) {
    reportSkipped('attributes', id, 'not a map')
    return undefined
  }
  const saved: unknown = entry.get('definition') // a Y.Text on boards before version 3
  const definition = edited instanceof Y.Text ? edited : saved instanceof Y.Text ? saved : undefined
  const name: unknown = entry.get('name')
  const status: unknown = entry.get('status')
  if (typeof name !== 'string') {
    reportSkipped('attributes', id, 'no name')
    return undefined
  }
  if (edited !== undefined && !(edited instanceof Y.Text)) reportSkipped('definitions', id, 'not a Y.Text')
  const provenance: unknown = entry.get('provenance')
  const version: unknown = entry.get('version')
  return {
    id,
    name: name.slice(0, 120),
    definition,
    savedDefinition: typeof saved === 'string' ? saved.slice(0, 4000) : '',
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

/** The edits document's definitions: attribute id → Y.Text. */
export function definitionsMap (edits: Y.Doc): Y.Map<unknown> {
  return edits.getMap('definitions')
}

/** Every attribute on the board, with the text being edited from the edits document. */
export function readAttributes (board: Y.Doc, edits: Y.Doc): BoardAttribute[] {
  const found: BoardAttribute[] = []
  const definitions = definitionsMap(edits)
  attributesMap(board).forEach((entry, id) => {
    const attribute = readAttribute(id, entry, definitions.get(id))
    if (attribute !== undefined) found.push(attribute)
  })
  return found
}

export function readCards (doc: Y.Doc): BoardCard[] {
  const found: BoardCard[] = []
  cardsMap(doc).forEach((entry, id) => {
    if (!(entry instanceof Y.Map)) {
      reportSkipped('cards', id, 'not a map')
      return
    }
    const text: unknown = entry.get('text')
    if (typeof text !== 'string' || text.trim() === '') {
      reportSkipped('cards', id, 'no text')
      return
    }
    const people: unknown = entry.get('people')
    const count = typeof people === 'number' && Number.isFinite(people) && people >= 0 ? Math.floor(people) : 0
    found.push({ id, text: text.slice(0, 500), kind: str(entry.get('kind'), 20), people: count })
  })
  return found.sort((a, b) => a.text.localeCompare(b.text))
}
