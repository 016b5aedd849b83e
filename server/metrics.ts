/**
 * Prometheus metrics of one feed server (prom-client), served at /metrics
 * with the API key. Each server has its own registry (tests run several in
 * one process); `node` labels what a cluster's nodes report apart.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type OfferOutcome = 'offered' | 'assigned' | 'accepted' | 'rejected' | 'expired' | 'customer-left' | 'rerouted' | 'taken';

export interface MetricsSources {
  connectedAgents(): number;
  queueLength(): Promise<number>;
  /** Events in the log not yet sent to this node's agents. */
  eventLag(): Promise<number>;
  /** Whether this server hands out work (a single server always; on a cluster, one node at a time). */
  dispatcher(): boolean;
}

export class Metrics {
  readonly registry = new Registry();
  readonly offers: Counter<'outcome'>;
  readonly delivery: Histogram;
  readonly commands: Counter<'type' | 'result'>;

  constructor(node: string, sources: MetricsSources) {
    this.registry.setDefaultLabels({ node });
    this.offers = new Counter({
      name: 'deskbell_offers_total',
      help: 'Conversations offered or assigned to agents, and how offers ended',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.delivery = new Histogram({
      name: 'deskbell_offer_delivery_seconds',
      help: 'From an offer or assignment being made (on any node) to its frame being written to the agent connection',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.commands = new Counter({
      name: 'deskbell_agent_commands_total',
      help: 'Commands from agents (accept, reject, send, …), by result',
      labelNames: ['type', 'result'],
      registers: [this.registry],
    });
    /** A gauge read from its source at each scrape. */
    const gauge = (name: string, help: string, read: () => number | Promise<number>) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        async collect() {
          this.set(await read());
        },
      });
    gauge('deskbell_agents_connected', 'Agents connected to this server', () => sources.connectedAgents());
    gauge('deskbell_queue_length', 'Conversations waiting for an agent (the whole feed, as the store has it)', () => sources.queueLength());
    gauge('deskbell_event_lag', "Events in the log not yet sent to this server's connected agents", () => sources.eventLag());
    gauge('deskbell_dispatcher', 'Whether this server hands out work: 1 on a single server, and on one node of a cluster at a time', () => (sources.dispatcher() ? 1 : 0));
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
