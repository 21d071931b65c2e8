import { Router, type Request, type Response } from 'express';
import type { CapabilityStatement } from 'fhir/r4.js';
import { OverloadedError } from '../../app/errors.js';
import type { ReceiveResult } from '../../app/receive-message.js';
import { bodyBytesToReserve, type IngestAdmission } from './ingest-admission.js';
import { checkContentType, readBody } from './read-body.js';
import { singleIssueOutcome } from './operation-outcome.js';

export interface FhirRouteDeps {
  readonly receive: (body: Uint8Array) => Promise<ReceiveResult>;
  readonly capabilityStatement: CapabilityStatement;
  readonly maxBodyBytes: number;
  /** Bounds the messages held at once before custody; past it, 503 before the body is read. */
  readonly admission: IngestAdmission;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/**
 * FHIR endpoints (DESIGN §2). The route only reads bytes and writes answers;
 * deciding is the use case's job, and every refusal is an error that the
 * error handler turns into a status and an OperationOutcome.
 */
export function fhirRoutes(deps: FhirRouteDeps): Router {
  const router = Router();

  router.post('/fhir/$process-message', async (req: Request, res: Response) => {
    checkContentType(req.headers['content-type']);
    const release = deps.admission.tryAdmit(bodyBytesToReserve(req.headers, deps.maxBodyBytes));
    if (release === undefined) throw new OverloadedError();
    try {
      // Held until its work is done, not until the sender hangs up: a sender that gives up does not stop the work.
      respond(res, await deps.receive(await readBody(req, deps.maxBodyBytes)));
    } finally {
      release();
    }
  });

  router.get('/fhir/metadata', (_req, res) => {
    res.type(FHIR_JSON).send(JSON.stringify(deps.capabilityStatement));
  });

  return router;
}

function respond(res: Response, result: ReceiveResult): void {
  if (result.kind === 'ack') {
    const outcome = singleIssueOutcome('information', 'informational', `Acknowledgement ${result.applied ? 'applied' : 'recorded'}: ${result.outcome}`);
    res.status(200).type(FHIR_JSON).send(JSON.stringify(outcome));
    return;
  }
  const accepted = result.kind === 'accepted';
  const text = accepted ? `Accepted for delivery; tracking id ${result.trackingId}` : `Already held as ${result.trackingId}; not sent again`;
  res
    .status(accepted ? 202 : 200)
    .location(`/api/messages/${result.trackingId}`)
    .type(FHIR_JSON)
    .send(JSON.stringify(singleIssueOutcome('information', 'informational', text)));
}
