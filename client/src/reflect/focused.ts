/**
 * Focused coding: the participant's codes as cards (with counts and excerpts) and their clusters as
 * boxes. Drag a code into a cluster, or use "Add to cluster…"; a code may be in several clusters.
 * Create, name and define clusters (saved as typed), merge and split them, take codes out, delete
 * them; rename codes, and merge codes picked with their boxes.
 */
import { element } from '../dom'
import { ClusterBox } from './clusterBox'
import { CodeCard } from './codeCard'
import { newRecordId } from './ids'
import { reconcile } from './keyed'
import type { ReflectView } from './project'
import type { Op } from './rest'

export interface FocusedCodingOptions {
  readonly change: (ops: readonly Op[], what: string) => void
}

export class FocusedCoding {
  readonly el: HTMLElement
  private readonly codeList: HTMLUListElement
  private readonly codesEmpty: HTMLElement
  private readonly mergeBar: HTMLElement
  private readonly mergeText: HTMLElement
  private readonly mergeInto: HTMLSelectElement
  private readonly clusterGrid: HTMLElement
  private readonly clustersEmpty: HTMLElement
  private readonly cards = new Map<string, CodeCard>()
  private readonly boxes = new Map<string, ClusterBox>()
  private readonly picked = new Set<string>()
  private view: ReflectView | undefined

  constructor (private readonly options: FocusedCodingOptions) {
    this.el = element('div', { class: 'rf-focused' })
    const codes = element('section', { class: 'card rf-codes', 'aria-labelledby': 'rf-codes-title' })
    const codesHead = element('div', { class: 'section-head' })
    codesHead.append(element('h2', { id: 'rf-codes-title' }, 'Your codes'))
    this.codeList = element('ul', { class: 'rf-code-list', 'data-testid': 'code-cards' })
    this.codesEmpty = element('p', { class: 'hint', 'data-testid': 'codes-empty' },
      'No codes yet: code some passages in Open coding first.')
    this.mergeBar = element('div', { class: 'rf-merge-bar', 'data-testid': 'merge-bar' })
    this.mergeText = element('span')
    this.mergeInto = element('select', { 'data-testid': 'merge-into', 'aria-label': 'The code to keep' })
    const mergeButton = element('button', { type: 'button', class: 'small', 'data-testid': 'merge-codes' }, 'Merge')
    const clear = element('button', { type: 'button', class: 'secondary small' }, 'Cancel')
    this.mergeBar.append(this.mergeText, this.mergeInto, mergeButton, clear)
    codes.append(codesHead,
      element('p', { class: 'hint' }, 'Drag a code into a cluster (or use “Add to cluster…”). Pick two or more codes to merge them.'),
      this.mergeBar, this.codeList, this.codesEmpty)

    const clusters = element('section', { class: 'rf-clusters', 'aria-labelledby': 'rf-clusters-title' })
    const clustersHead = element('div', { class: 'section-head' })
    const create = element('button', { type: 'button', class: 'small', 'data-testid': 'new-cluster' }, 'New cluster')
    clustersHead.append(element('h2', { id: 'rf-clusters-title' }, 'Clusters'), create)
    this.clusterGrid = element('div', { class: 'rf-cluster-grid', 'data-testid': 'clusters' })
    this.clustersEmpty = element('p', { class: 'hint', 'data-testid': 'clusters-empty' },
      'Group codes that belong together into a cluster, and say what it means.')
    clusters.append(clustersHead, this.clustersEmpty, this.clusterGrid)
    this.el.append(codes, clusters)

    create.addEventListener('click', () => { this.createCluster([]) })
    mergeButton.addEventListener('click', () => { this.mergePicked() })
    clear.addEventListener('click', () => {
      this.picked.clear()
      if (this.view !== undefined) this.update(this.view)
    })
  }

  update (view: ReflectView): void {
    this.view = view
    const codeIds = new Set(view.codes.map((c) => c.id))
    for (const id of this.picked) if (!codeIds.has(id)) this.picked.delete(id)
    reconcile(this.codeList, this.cards, view.codes.map((c) => c.id), (id) => new CodeCard(id, {
      rename: (code, label) => { this.options.change([{ kind: 'code.rename', id: code, label }], 'Rename a code') },
      addTo: (code, cluster) => { this.addTo(code, cluster) },
      select: (code, on) => {
        if (on) this.picked.add(code)
        else this.picked.delete(code)
        this.showMergeBar()
      },
    }))
    for (const code of view.codes) this.cards.get(code.id)?.update(code, view.codes, view.clusters, this.picked.has(code.id))
    this.codesEmpty.hidden = view.codes.length > 0

    const byId = new Map(view.codes.map((c) => [c.id, c]))
    reconcile(this.clusterGrid, this.boxes, view.clusters.map((c) => c.id), (id) => new ClusterBox(id, {
      update: (cluster, fields) => {
        const what = fields.name !== undefined ? 'Rename a cluster' : 'Define a cluster'
        this.options.change([{ kind: 'cluster.update', id: cluster, ...fields }], what)
      },
      setCodes: (cluster, ids) => {
        this.options.change([{ kind: 'cluster.set_codes', id: cluster, code_ids: ids }], 'Change the codes of a cluster')
      },
      mergeInto: (into, other) => {
        this.commitTyping()
        this.options.change([{ kind: 'cluster.merge', ids: [other], into }], 'Merge clusters')
      },
      split: (cluster, ids, name) => {
        this.options.change([{ kind: 'cluster.split', id: cluster, new_id: newRecordId(), name, code_ids: ids }],
          'Split a cluster')
      },
      remove: (cluster) => { this.options.change([{ kind: 'cluster.delete', id: cluster }], 'Delete a cluster') },
    }))
    for (const cluster of view.clusters) this.boxes.get(cluster.id)?.update(cluster, byId, view.clusters)
    this.clustersEmpty.hidden = view.clusters.length > 0
    this.showMergeBar()
  }

  /** Save whatever is being typed in a cluster's name or definition (before the page goes away). */
  commitTyping (): void {
    for (const box of this.boxes.values()) box.commit()
  }

  private addTo (code: string, cluster: string | 'new'): void {
    if (cluster === 'new') {
      this.createCluster([code])
      return
    }
    this.boxes.get(cluster)?.add(code)
  }

  private createCluster (codeIds: readonly string[]): void {
    const id = newRecordId()
    const name = `Cluster ${(this.view?.clusters.length ?? 0) + 1}`
    this.options.change([{ kind: 'cluster.create', id, name, definition: '', code_ids: codeIds }], 'Create a cluster')
    const box = this.boxes.get(id)
    if (box !== undefined) {
      box.el.scrollIntoView({ block: 'nearest' })
      box.name.focus()
      box.name.select()
    }
  }

  private showMergeBar (): void {
    const picked = (this.view?.codes ?? []).filter((c) => this.picked.has(c.id))
    this.mergeBar.hidden = picked.length < 2
    if (picked.length < 2) return
    const keep = this.mergeInto.value
    this.mergeText.textContent = `Merge ${picked.length} codes into`
    this.mergeInto.replaceChildren(...picked.map((c) => element('option', { value: c.id }, c.label)))
    if (picked.some((c) => c.id === keep)) this.mergeInto.value = keep
  }

  private mergePicked (): void {
    const into = this.mergeInto.value
    const ids = [...this.picked].filter((id) => id !== into)
    if (into === '' || ids.length === 0) return
    this.picked.clear()
    this.options.change([{ kind: 'code.merge', ids, into }], 'Merge codes')
  }
}
