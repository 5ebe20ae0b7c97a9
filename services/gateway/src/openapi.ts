import { z } from 'zod';
import { loginBody } from './auth/login.js';

/**
 * The public document is the api's, plus the operations the gateway answers itself (login, the
 * caller's identity, the dev signing key). Their schemas come from the zod schemas the gateway
 * validates with, so nothing is restated by hand.
 */
type Document = { paths?: Record<string, unknown>; components?: { schemas?: Record<string, unknown> } } & Record<string, unknown>;

const errorRef = { $ref: '#/components/schemas/Error' };
const error = (description: string) => ({ description, content: { 'application/json': { schema: errorRef } } });
const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' });

const tokenReply = z.object({
  accessToken: z.string(),
  tokenType: z.literal('Bearer'),
  expiresIn: z.number().int().describe('Seconds until the token expires.'),
});
const identityReply = z.object({
  sub: z.string(),
  email: z.string().optional(),
  tenant: z.string(),
  scopes: z.array(z.string()),
});
const jwksReply = z.object({ keys: z.array(z.object({ kty: z.string() }).catchall(z.unknown())) });

export interface GatewayOperations {
  /** Dev users log in here (absent in production, where tokens come from the identity provider). */
  login: boolean;
  /** The gateway issues tokens and publishes its public key. */
  jwks: boolean;
}

export function withGatewayOperations(apiDocument: Document, operations: GatewayOperations): Document {
  const paths: Record<string, unknown> = { ...apiDocument.paths };
  if (operations.login) {
    paths['/auth/login'] = {
      post: {
        summary: 'Log in as a dev user: a bearer token for every other call',
        security: [],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: jsonSchema(loginBody),
              example: { email: 'demo@example.com', password: 'demo-password' },
            },
          },
        },
        responses: {
          200: {
            description: 'A token.',
            content: { 'application/json': { schema: jsonSchema(tokenReply), example: { accessToken: 'eyJhbGciOiJFUzI1NiJ9...', tokenType: 'Bearer', expiresIn: 3600 } } },
          },
          400: error('Malformed: not JSON, or `details` names the invalid fields.'),
          401: error('Wrong email or password.'),
          413: error('Body over the limit.'),
          415: error('Body is not JSON.'),
          429: error('Too many failed logins for this account (Retry-After), or rate limited.'),
          500: error('Internal error.'),
        },
      },
    };
  }
  paths['/auth/me'] = {
    get: {
      summary: 'Who the token says the caller is: subject, tenant and scopes',
      security: [{ bearer: [] }],
      responses: {
        200: {
          description: 'The token\'s identity.',
          content: { 'application/json': { schema: jsonSchema(identityReply), example: { sub: 'user-demo', email: 'demo@example.com', tenant: 'demo', scopes: ['jobs:read', 'jobs:write'] } } },
        },
        400: error('Malformed request.'),
        401: error('Not authenticated.'),
        429: error('Rate limited.'),
        500: error('Internal error.'),
      },
    },
  };
  if (operations.jwks) {
    paths['/.well-known/jwks.json'] = {
      get: {
        summary: 'The public key dev tokens are signed with (JWKS)',
        security: [],
        responses: {
          200: {
            description: 'The key set.',
            content: { 'application/json': { schema: jsonSchema(jwksReply), example: { keys: [{ kty: 'EC', crv: 'P-256', x: '…', y: '…', alg: 'ES256', kid: 'dev' }] } } },
          },
          400: error('Malformed request.'),
          429: error('Rate limited.'),
          500: error('Internal error.'),
        },
      },
    };
  }
  return { ...apiDocument, paths };
}
