/**
 * The Discuss calls of the REST API (server/calma/api/discuss.py) and the shapes they answer with
 * (server/calma/api/schemas.py, the Discuss section). Participants and observers work in their own
 * group; the facilitator names the group in every call (`group_id`). Calls go through ../api.ts's
 * `call`: failures become ApiErrors whose message is the problem's `detail`.
 */
import { call } from '../api'
import type { Segment } from '../generated/control'

export interface TopEntry {
  readonly name: string
  readonly definition: string
}

/** One person's top three, once the facilitator revealed them. */
export interface PersonTop3 {
  readonly participant_id: string
  readonly display_name: string
  readonly entries: readonly TopEntry[]
}

export type ExampleKind = 'baseline' | 'message'

export interface ExampleRef {
  readonly kind: ExampleKind
  readonly id: string
}

export type AttributeStatus = 'active' | 'merged' | 'split' | 'removed'

/** A group attribute as the server keeps it (the board mirrors it; its definition is a Y.Text there). */
export interface Attribute {
  readonly id: string
  readonly name: string
  readonly definition: string
  readonly examples: readonly ExampleRef[]
  readonly provenance: readonly string[]
  readonly status: AttributeStatus
  readonly merged_into: string | null
  readonly split_from: string | null
  readonly version: number
  readonly created_by: string
}

export interface AttributeVersion {
  readonly version: number
  /** create, update, merge, split or remove. */
  readonly op: string
  readonly snapshot: Readonly<Record<string, unknown>>
  readonly by: string
  readonly at: string
}

export interface BordaScore {
  readonly attribute_id: string
  readonly score: number
}

/** The group's rankings of one size aggregated by Borda and by Schulze. */
export interface Aggregate {
  readonly ballots: number
  readonly borda: readonly BordaScore[]
  /** Tiers of attribute ids, best first; ties share a tier. */
  readonly borda_order: ReadonlyArray<readonly string[]>
  readonly schulze_order: ReadonlyArray<readonly string[]>
  /** Borda and Schulze differ in the top places. */
  readonly disagree: boolean
  /** In words (attribute ids in it; the page puts the names in). */
  readonly summary: string
}

export interface Rankings {
  readonly top3: Aggregate
  readonly top5: Aggregate
}

export interface Ballot {
  readonly top3: readonly string[]
  readonly top5: readonly string[]
}

export interface Ratings {
  readonly likert: Readonly<Record<string, number>>
  readonly ranking: readonly string[]
}

export interface Mine {
  readonly top3: readonly TopEntry[] | null
  readonly ranking: Ballot | null
  readonly ratings: Ratings | null
}

/** The session as this person sees it (GET …/discuss). */
export interface DiscussState {
  readonly study_id: string
  readonly group_id: string
  readonly segment: Segment
  readonly reveals: Readonly<Record<string, number>>
  readonly role: 'facilitator' | 'participant' | 'observer'
  readonly can_write: boolean
  readonly participants: number
  readonly top3_submitted: number
  readonly rankings_submitted: number
  readonly ratings_submitted: number
  /** Participants: what they entered. */
  readonly mine: Mine | null
  /** Everyone's top three, once revealed. */
  readonly top3: readonly PersonTop3[] | null
  readonly attributes: readonly Attribute[]
  /** Facilitators always; others once `rankings` is revealed. */
  readonly rankings: Rankings | null
}

export interface OwnArtifacts {
  readonly conversations: number
  readonly annotations: number
  readonly codes: ReadonlyArray<{ readonly label: string, readonly uses: number }>
  readonly clusters: ReadonlyArray<{ readonly name: string, readonly definition: string }>
}

export interface Topic {
  readonly name: string
  readonly terms: readonly string[]
  readonly prompts: number
}

export interface GroupCode {
  readonly label: string
  readonly uses: number
  readonly people: number
}

/** What everyone gets before the session (GET …/discuss/artifacts). */
export interface Artifacts {
  readonly group_id: string
  readonly mine: OwnArtifacts | null
  readonly topics: readonly Topic[]
  /** Null until the facilitator releases the group's codes. */
  readonly codes: readonly GroupCode[] | null
  /** The word cloud picture's address (a PNG), or null. */
  readonly word_cloud: string | null
  /** The facilitator's link (e.g. a video), or ''. */
  readonly link: string
}

export interface PersonFigures {
  readonly participant_id: string
  readonly display_name: string
  readonly segment1: readonly string[] | null
  readonly segment5: readonly string[] | null
  readonly kendall_tau: number | null
  readonly top3_overlap: number | null
}

export interface LikertFigures {
  readonly attribute_id: string
  readonly name: string
  readonly n: number
  readonly median: number | null
  readonly q1: number | null
  readonly q3: number | null
  readonly iqr: number | null
  readonly share_agreeing: number | null
  readonly caveat: string | null
}

/** The before/after agreement figures (GET …/discuss/consensus, facilitators, once closed). */
export interface Consensus {
  readonly attributes: ReadonlyArray<{ readonly id: string, readonly name: string }>
  readonly participants: readonly PersonFigures[]
  readonly kendalls_w_before: number | null
  readonly kendalls_w_after: number | null
  readonly kendalls_w_people: number
  readonly kendalls_w_caveat: string | null
  readonly likert: readonly LikertFigures[]
  readonly krippendorff_alpha: number | null
  readonly krippendorff_caveat: string | null
}

/** Something an attribute can take as an example: a baseline item or a model reply. */
export interface ExampleItem {
  readonly kind: ExampleKind
  readonly id: string
  readonly prompt: string
  readonly text: string
}

interface StudyBaseline {
  readonly baseline_interactions: ReadonlyArray<{ readonly id: string, readonly prompt: string, readonly response: string }>
}

interface ReflectItems {
  readonly items: ReadonlyArray<{ readonly kind: string, readonly id: string, readonly prompt: string, readonly text: string }>
}

const enc = encodeURIComponent

/** The calls of one page, for one study and group; `group` is named only by the facilitator. */
export class DiscussApi {
  constructor (readonly study: string, readonly group: string | undefined) {}

  private path (suffix: string): string {
    return `/studies/${enc(this.study)}/discuss${suffix}`
  }

  private query (): string {
    return this.group === undefined ? '' : `?group_id=${enc(this.group)}`
  }

  /** A body with `group_id` added for the facilitator. */
  private body<T extends object> (body: T): T & { group_id?: string } {
    return this.group === undefined ? body : { ...body, group_id: this.group }
  }

  async state (): Promise<DiscussState> { return await call('GET', this.path(this.query())) }
  async artifacts (): Promise<Artifacts> { return await call('GET', this.path(`/artifacts${this.query()}`)) }

  async putTop3 (entries: readonly TopEntry[]): Promise<Mine> {
    return await call('PUT', this.path('/top3'), { entries })
  }

  async createAttribute (name: string, definition: string, provenance: readonly string[],
    examples: readonly ExampleRef[]): Promise<Attribute> {
    return await call('POST', this.path('/attributes'), this.body({ name, definition, provenance, examples }))
  }

  async updateAttribute (id: string, patch: { name?: string, provenance?: readonly string[], examples?: readonly ExampleRef[] }): Promise<Attribute> {
    return await call('PATCH', this.path(`/attributes/${enc(id)}`), this.body(patch))
  }

  async saveVersion (id: string): Promise<Attribute> {
    return await call('POST', this.path(`/attributes/${enc(id)}/versions`), this.body({}))
  }

  async merge (ids: readonly string[], name: string): Promise<Attribute> {
    return await call('POST', this.path('/attributes/merge'), this.body({ ids, name }))
  }

  async split (id: string, names: readonly string[]): Promise<readonly Attribute[]> {
    return (await call<{ attributes: Attribute[] }>('POST', this.path(`/attributes/${enc(id)}/split`), this.body({ names }))).attributes
  }

  async remove (id: string): Promise<Attribute> {
    return await call('DELETE', this.path(`/attributes/${enc(id)}${this.query()}`))
  }

  async history (id: string): Promise<readonly AttributeVersion[]> {
    return (await call<{ versions: AttributeVersion[] }>('GET', this.path(`/attributes/${enc(id)}/history${this.query()}`))).versions
  }

  async putRanking (ballot: Ballot): Promise<Mine> { return await call('PUT', this.path('/ranking'), ballot) }
  async putRatings (ratings: Ratings): Promise<Mine> { return await call('PUT', this.path('/ratings'), ratings) }
  async consensus (): Promise<Consensus> { return await call('GET', this.path(`/consensus${this.query()}`)) }

  /**
   * What attributes can take as examples: the study's baseline items (everyone may read them) and,
   * for participants, their own model replies (their Reflect items).
   */
  async exampleItems (participant: boolean): Promise<ExampleItem[]> {
    const study = await call<StudyBaseline>('GET', `/studies/${enc(this.study)}`)
    const items: ExampleItem[] = study.baseline_interactions.map((b) => ({ kind: 'baseline', id: b.id, prompt: b.prompt, text: b.response }))
    if (participant) {
      const reflect = await call<ReflectItems>('GET', `/studies/${enc(this.study)}/reflect`)
      for (const item of reflect.items) {
        if (item.kind === 'message') items.push({ kind: 'message', id: item.id, prompt: item.prompt, text: item.text })
      }
    }
    return items
  }

  /** The group's participants by id (facilitators only). */
  async participants (): Promise<ReadonlyArray<{ readonly id: string, readonly display_name: string }>> {
    const group = this.group === undefined ? '' : `?group_id=${enc(this.group)}`
    return (await call<{ participants: Array<{ id: string, display_name: string }> }>(
      'GET', `/studies/${enc(this.study)}/participants${group}`)).participants
  }
}
