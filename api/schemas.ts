/**
 * Request schemas of the HTTP API (zod). Every object is strict: an unknown field (say `role` or
 * `jurisdiction` in a decision) is refused with 400, never ignored. Query values are checked to
 * their exact form (enums, 6-digit codes, ISO dates, finite numbers) before any SQL sees them.
 */
import { z } from 'zod';
import { CATEGORIES, STATUSES } from '../pipeline/types.js';
import { PSEUDO_REASONS } from './decisions.js';

/** `a,b` or `?x=a&x=b` → ['a', 'b'], each value checked against `values`. */
function listOf<T extends readonly [string, ...string[]]>(values: T) {
  return z.union([z.string().max(400), z.array(z.string().max(100)).max(20)])
    .transform((v) => (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(z.enum(values)).min(1).max(20));
}

const isoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
  .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), 'not a calendar date');

export const DIVISION_CODE = z.string().regex(/^\d{6}$/, 'expected a 6-digit administrative division code');
export const ALERT_ID = /^OW-[0-9A-F]{12}$/;

const bbox = z.string().max(200)
  .transform((s) => s.split(',').map((v) => (v.trim() === '' ? Number.NaN : Number(v))))
  .refine((v) => v.length === 4 && v.every(Number.isFinite), 'expected minLon,minLat,maxLon,maxLat')
  .refine((v) => v[0] >= -180 && v[2] <= 180 && v[1] >= -90 && v[3] <= 90 && v[0] <= v[2] && v[1] <= v[3], 'expected a bbox inside -180,-90,180,90 with min ≤ max')
  .transform((v) => v as [number, number, number, number]);

const intIn = (min: number, max: number) => z.string().regex(/^\d{1,7}$/, 'expected a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

export const SORTS = ['priority', 'area', 'last_seen', 'first_seen', 'score'] as const;

export const alertListQuery = z.strictObject({
  category: listOf(CATEGORIES).optional(),
  status: listOf(STATUSES).optional(),
  confidence: listOf(['provisional', 'confirmed'] as const).optional(),
  jurisdiction: DIVISION_CODE.optional(),
  from: isoDate.optional(),
  to: isoDate.optional(),
  bbox: bbox.optional(),
  min_area_ha: z.string().max(20).transform(Number).pipe(z.number().finite().min(0).max(1e6)).optional(),
  /** An alert id or permit id, or the start of one. */
  q: z.string().trim().regex(/^[A-Za-z0-9-]{1,40}$/, 'expected (the start of) an alert or permit id').optional(),
  sort: z.enum(SORTS).optional(),
  order: z.enum(['asc', 'desc']).optional(),
  limit: intIn(1, 500).optional(),
  offset: intIn(0, 1_000_000).optional(),
}).refine((q) => q.from === undefined || q.to === undefined || q.from <= q.to, { message: 'from is after to', path: ['from'] });
export type AlertListQuery = z.infer<typeof alertListQuery>;

export const loginBody = z.strictObject({
  username: z.string().min(1).max(64),
  password: z.string().min(1).max(1024),
});

const note = z.string().max(2000).transform((s) => s.trim()).optional();

export const decisionBody = z.strictObject({
  /** The client's idempotency key: the same id twice stores one decision. */
  decision_id: z.uuid(),
  status: z.enum(STATUSES).optional(),
  reason: z.enum(PSEUDO_REASONS).optional(),
  note,
  /** The status the client saw; a different one now means someone else decided first (409). */
  expected_status: z.enum(STATUSES).optional(),
  /** Undo: the decision to revert (the caller's own, and the alert's latest). */
  undo_of: z.uuid().optional(),
}).refine((b) => (b.status === undefined) !== (b.undo_of === undefined), { message: 'give either status or undo_of', path: ['status'] });
export type DecisionBody = z.infer<typeof decisionBody>;

export const assignmentBody = z.strictObject({
  county_code: DIVISION_CODE.optional(),
  assignee: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).nullable().optional(),
  note,
}).refine((b) => b.county_code !== undefined || b.assignee !== undefined, { message: 'give county_code or assignee', path: ['county_code'] });

export const COMPARE_MODES = ['swipe', 'side-by-side', 'blink', 'opacity'] as const;
export const preferencesBody = z.strictObject({
  language: z.enum(['zh-CN', 'en']).optional(),
  compare_mode: z.enum(COMPARE_MODES).optional(),
  colour: z.enum(['true', 'false']).optional(),
  outlines: z.boolean().optional(),
});

export const IMAGE_NAMES = ['true-before', 'true-after', 'false-before', 'false-after', 'overview',
  'map-true-before', 'map-true-after', 'map-false-before', 'map-false-after'] as const;

/** The first problem of a failed parse, as one line naming the field. */
export function describeIssues(error: z.ZodError): string {
  return error.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ');
}

/** `GET /api/alerts/:id/report.pdf`: the report's language. */
export const reportQuery = z.strictObject({ lang: z.enum(['zh', 'en']).optional() });

/** `GET /api/export`: a GIS format and the queue's filters (paging is the server's). */
export const exportQuery = z.strictObject({
  format: z.enum(['geojson', 'kml', 'csv', 'shp']),
  lang: z.enum(['zh', 'en']).optional(),
  category: alertListQuery.shape.category,
  status: alertListQuery.shape.status,
  confidence: alertListQuery.shape.confidence,
  jurisdiction: alertListQuery.shape.jurisdiction,
  from: alertListQuery.shape.from,
  to: alertListQuery.shape.to,
  bbox: alertListQuery.shape.bbox,
  q: alertListQuery.shape.q,
});
