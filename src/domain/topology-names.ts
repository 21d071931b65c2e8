import type { OdsCode } from './ids.js';

/** Every exchange and queue name Courier uses (DESIGN §3), built in this one place from the prefix. */
export interface TopologyNames {
  /** Direct exchange letters are published to, routing key = ODS code. */
  readonly outbound: string;
  /** The practice's own quorum queue. */
  practiceQueue(ods: OdsCode): string;
  /** Fanout exchange and quorum queue receiving letters over the delivery limit. */
  readonly deadLetterExchange: string;
  readonly deadLetterQueue: string;
  /** Direct exchange and queue for acknowledgements, routing key = the acking practice's ODS code. */
  readonly inboundExchange: string;
  readonly inboundQueue: string;
  /** Topic exchange for status events, routing key `<state>.<ODS>`. */
  readonly events: string;
}

export function topologyNames(prefix: string): TopologyNames {
  return {
    outbound: `${prefix}.outbound`,
    practiceQueue: (ods) => `${prefix}.gp.${ods}`,
    deadLetterExchange: `${prefix}.dead-letter`,
    deadLetterQueue: `${prefix}.dead-letter`,
    inboundExchange: `${prefix}.inbound`,
    inboundQueue: `${prefix}.inbound`,
    events: `${prefix}.events`,
  };
}
