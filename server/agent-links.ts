/**
 * The live agent connections of this server: one per agent (a newer one
 * replaces the older), what each client has acknowledged, and the grace an
 * agent who lost the connection gets before its open offers go elsewhere.
 */
import type { Presence, ServerEvent } from '../protocol/feed.ts';
import type { Logger } from './logger.ts';

/** One live agent connection, as the service sees it. */
export interface AgentLink {
  readonly agentId: string;
  presence: Presence;
  send(event: ServerEvent): void;
  /** Closes the connection; a newer connection of the same agent replaces this one. */
  close(code: number, reason: string): void;
  /** The last seq sent on this connection. */
  readonly sentSeq: number;
  /** Sends what the log has after `sentSeq` (another node wrote it), in order. */
  pump(): void;
}

export class AgentLinks {
  readonly #links = new Map<string, AgentLink>();
  /** Highest seq each connected agent's client has acknowledged. */
  readonly #acked = new Map<string, number>();
  readonly #graces = new Map<string, NodeJS.Timeout>();
  /** Agents connected and available, kept as links and presences change: dispatch reads it for every new conversation. */
  readonly #available = new Set<string>();
  /** Changes whenever who is available changes, so what is built on `available()` knows to build again. */
  version = 0;

  /**
   * @param graceMs how long an agent who lost the connection keeps its open offers
   * @param onGone called when that grace has passed and the agent has not come back
   */
  constructor(
    private readonly graceMs: number,
    private readonly log: Logger,
    private readonly onGone: (agentId: string) => void,
  ) {}

  /** Makes `link` the agent's connection; returns the one it replaces, if any. */
  attach(link: AgentLink, ackedUpTo: number): AgentLink | undefined {
    const previous = this.#links.get(link.agentId);
    this.#links.set(link.agentId, link);
    this.#syncAvailable(link.agentId);
    this.#acked.set(link.agentId, ackedUpTo);
    clearTimeout(this.#graces.get(link.agentId));
    this.#graces.delete(link.agentId);
    return previous;
  }

  /** The connection closed; unless a newer one replaced it, the grace starts. */
  detach(link: AgentLink): void {
    if (this.#links.get(link.agentId) !== link) return;
    this.#links.delete(link.agentId);
    this.#syncAvailable(link.agentId);
    this.log.info('agent detached', { agent: link.agentId });
    clearTimeout(this.#graces.get(link.agentId));
    this.#graces.set(
      link.agentId,
      setTimeout(() => {
        this.#graces.delete(link.agentId);
        if (!this.#links.has(link.agentId)) this.onGone(link.agentId);
      }, this.graceMs),
    );
  }

  isConnected(agentId: string): boolean {
    return this.#links.has(agentId);
  }

  /** Closes the agent's connection, if any. */
  close(agentId: string, code: number, reason: string): void {
    this.#links.get(agentId)?.close(code, reason);
  }

  /** The agent said where they are; a replaced connection's word no longer counts. */
  setPresence(link: AgentLink, presence: Presence): void {
    link.presence = presence;
    if (this.#links.get(link.agentId) === link) this.#syncAvailable(link.agentId);
  }

  /** Agents connected and available for new work (kept up to date: do not change it). */
  available(): ReadonlySet<string> {
    return this.#available;
  }

  #syncAvailable(agentId: string): void {
    const available = this.#links.get(agentId)?.presence === 'available';
    if (available === this.#available.has(agentId)) return;
    if (available) this.#available.add(agentId);
    else this.#available.delete(agentId);
    this.version++;
  }

  send(agentId: string, event: ServerEvent): void {
    this.#links.get(agentId)?.send(event);
  }

  get(agentId: string): AgentLink | undefined {
    return this.#links.get(agentId);
  }

  /** How many agents are connected to this server. */
  get size(): number {
    return this.#links.size;
  }

  /** Every live connection of this server. */
  all(): IterableIterator<AgentLink> {
    return this.#links.values();
  }

  ack(agentId: string, seq: number): void {
    this.#acked.set(agentId, Math.max(this.#acked.get(agentId) ?? 0, seq));
  }

  ackedUpTo(agentId: string): number {
    return this.#acked.get(agentId) ?? 0;
  }

  clear(): void {
    for (const t of this.#graces.values()) clearTimeout(t);
    this.#graces.clear();
    this.#links.clear();
  }
}
