/**
 * Versioned reference layers in the store. Importing a file whose content (SHA-256) equals the
 * latest version of that layer keeps that version; a changed file becomes version n + 1. Alerts
 * and scans record which versions they were judged against.
 */
import type { ReferenceLayer } from '../../geodata/reference-layers/types.js';
import Flatbush from 'flatbush';
import { bboxOf, type Bbox } from '../rules.js';
import type { ReferenceArea, RuleLayers } from '../types.js';
import type { LayerRef } from './alert-store.js';
import type { Queryable } from './database.js';

/** Features per INSERT statement when a layer is stored. */
const FEATURE_BATCH = 2_000;

export async function storeLayer(tx: Queryable, layer: ReferenceLayer, name: string): Promise<LayerRef & { created: boolean }> {
  const latest = await tx.query<{ layer_id: string; version: number; sha256: string }>(
    'SELECT layer_id, version, sha256 FROM layers WHERE kind = $1 AND name = $2 ORDER BY version DESC LIMIT 1', [layer.kind, name]);
  const top = latest.rows[0];
  if (top && top.sha256 === layer.source.sha256) {
    return { kind: layer.kind, name, version: top.version, sha256: top.sha256, layerId: Number(top.layer_id), created: false };
  }
  const version = (top?.version ?? 0) + 1;
  const inserted = await tx.query<{ layer_id: string }>(
    `INSERT INTO layers (kind, name, version, sha256, source_file, format, feature_count) VALUES ($1,$2,$3,$4,$5,$6,$7) RETURNING layer_id`,
    [layer.kind, name, version, layer.source.sha256, layer.source.file, layer.source.format, layer.features.length]);
  const layerId = Number(inserted.rows[0].layer_id);
  // Features go in batches, as one JSON document per batch that the server takes apart
  // (json_to_recordset): one statement per 2,000 features instead of one per feature, which made
  // importing 100,000 permits take a minute. The same SQL runs on PGlite and PostgreSQL.
  for (let start = 0; start < layer.features.length; start += FEATURE_BATCH) {
    const batch = layer.features.slice(start, start + FEATURE_BATCH).map((f) => {
      const [minLon, minLat, maxLon, maxLat] = bboxOf(f.geometry);
      return { id: f.id, p: f.properties, g: f.geometry, x0: minLon, y0: minLat, x1: maxLon, y1: maxLat };
    });
    await tx.query(
      `INSERT INTO layer_features (layer_id, feature_id, properties, geometry, min_lon, min_lat, max_lon, max_lat)
       SELECT $1, f.id, f.p::jsonb, f.g::jsonb, f.x0, f.y0, f.x1, f.y1
       FROM json_to_recordset($2::json) AS f(id text, p json, g json, x0 double precision, y0 double precision, x1 double precision, y1 double precision)`,
      [layerId, JSON.stringify(batch)]);
  }
  await tx.query(`INSERT INTO audit_log (actor, action, details) VALUES ('orewatch', 'layer_imported', $1)`,
    [JSON.stringify({ kind: layer.kind, name, version, sha256: layer.source.sha256, features: layer.features.length })]);
  return { kind: layer.kind, name, version, sha256: layer.source.sha256, layerId, created: true };
}

const KIND_KEY = { permits: 'permits', closed_sites: 'closedSites', protected_areas: 'protectedAreas', jurisdictions: 'jurisdictions' } as const;

/** The latest version of every stored layer, by kind (several named layers of a kind are merged). */
export async function loadStoredLayers(db: Queryable, kinds: (keyof typeof KIND_KEY)[]): Promise<{ layers: Partial<RuleLayers>; refs: LayerRef[] }> {
  const layers: Partial<RuleLayers> = {};
  const refs: LayerRef[] = [];
  if (kinds.length === 0) return { layers, refs };
  const latest = await db.query<{ layer_id: string; kind: keyof typeof KIND_KEY; name: string; version: number; sha256: string }>(
    `SELECT DISTINCT ON (kind, name) layer_id, kind, name, version, sha256 FROM layers WHERE kind = ANY($1) ORDER BY kind, name, version DESC`, [kinds]);
  for (const row of latest.rows) {
    refs.push({ kind: row.kind, name: row.name, version: row.version, sha256: row.sha256, layerId: Number(row.layer_id) });
    const features = await db.query<{ feature_id: string; properties: Record<string, unknown>; geometry: ReferenceArea['geometry'] }>(
      'SELECT feature_id, properties, geometry FROM layer_features WHERE layer_id = $1 ORDER BY feature_id', [row.layer_id]);
    const key = KIND_KEY[row.kind];
    const list = (layers[key] ?? []) as ReferenceArea[];
    for (const f of features.rows) list.push({ id: f.feature_id, geometry: f.geometry, properties: f.properties });
    (layers as Record<string, ReferenceArea[]>)[key] = list;
  }
  return { layers, refs };
}

/** Options of loadLayersByRef. */
export interface LoadLayersOptions {
  /**
   * Load only the features whose bbox meets one of these boxes ([minLon, minLat, maxLon, maxLat]),
   * per layer: rules.ts ruleSearchBoxes gives the boxes the rules can look in for a set of sites,
   * so classifying them needs nothing else. The features keep their order.
   */
  near?: Record<keyof RuleLayers, Bbox[]>;
}

// Rows come back as one JSON document per query instead of a row per feature: PGlite spends most
// of a 100,000-row result in per-row protocol handling. Queries are cut so that each document
// stays well below the longest string V8 holds (2^29 characters): about 600 characters a
// feature, 70 a bbox.
const FEATURES_PER_QUERY = 200_000;
const BOXES_PER_QUERY = 2_000_000;

/**
 * Features as the rules see them, in feature_id order (the database's collation, as before): the
 * whole layer, or those with the given ids. Long layers come in pages, keyed on feature_id.
 */
async function loadFeatures(db: Queryable, layerId: number, ids: string[] | null, into: ReferenceArea[]): Promise<void> {
  let after: string | null = null;
  for (;;) {
    const params: unknown[] = [layerId];
    const where = ['layer_id = $1'];
    if (ids) where.push(`feature_id = ANY($${params.push(ids)}::text[])`);
    if (after !== null) where.push(`feature_id > $${params.push(after)}`);
    const result = await db.query<{ page: string | null }>(
      `SELECT json_agg(json_build_array(feature_id, properties, geometry) ORDER BY feature_id)::text AS page
       FROM (SELECT feature_id, properties, geometry FROM layer_features WHERE ${where.join(' AND ')} ORDER BY feature_id LIMIT ${FEATURES_PER_QUERY}) AS f`,
      params);
    const rows = JSON.parse(result.rows[0]?.page ?? '[]') as [string, Record<string, unknown>, ReferenceArea['geometry']][];
    for (const [id, properties, geometry] of rows) into.push({ id, geometry, properties });
    if (rows.length < FEATURES_PER_QUERY) return;
    after = rows[rows.length - 1][0];
  }
}

// Stored bboxes pass through decimal text; growing the boxes by this much (degrees, ~1 cm) keeps
// the features they meet a superset of those the rules would find, whatever the rounding.
const NEAR_SLACK_DEG = 1e-7;

/** Ids of the layer's features whose stored bbox meets one of `boxes`, and how many features it has (0 when no boxes). */
async function featureIdsNear(db: Queryable, layerId: number, boxes: Bbox[]): Promise<{ ids: string[]; total: number }> {
  if (boxes.length === 0) return { ids: [], total: 0 };
  const index = new Flatbush(boxes.length);
  for (const [x0, y0, x1, y1] of boxes) index.add(x0 - NEAR_SLACK_DEG, y0 - NEAR_SLACK_DEG, x1 + NEAR_SLACK_DEG, y1 + NEAR_SLACK_DEG);
  index.finish();
  const counted = await db.query<{ feature_count: number }>('SELECT feature_count FROM layers WHERE layer_id = $1', [layerId]);
  const total = Number(counted.rows[0]?.feature_count ?? 0);
  // Order does not matter here, so a huge layer is cut by a hash of the id rather than sorted.
  const parts = Math.max(1, Math.ceil(total / BOXES_PER_QUERY));
  const ids: string[] = [];
  for (let part = 0; part < parts; part++) {
    const result = await db.query<{ boxes: string | null }>(
      `SELECT json_agg(json_build_array(feature_id, min_lon, min_lat, max_lon, max_lat))::text AS boxes FROM layer_features
       WHERE layer_id = $1${parts > 1 ? ` AND (hashtext(feature_id) & 2147483647) % ${parts} = ${part}` : ''}`, [layerId]);
    const rows = JSON.parse(result.rows[0]?.boxes ?? '[]') as [string, ...(number | string)[]][];
    for (const [id, ...stored] of rows) {
      // Number(): a non-finite float (an empty geometry's box) comes as a string; it meets nothing.
      const [x0, y0, x1, y1] = stored.map(Number);
      if ([x0, y0, x1, y1].every(Number.isFinite) && index.search(x0, y0, x1, y1).length > 0) ids.push(id);
    }
  }
  return { ids, total };
}

/**
 * The layers a scan recorded (by id), as the rules see them. Both modes classify through this, so
 * an embedded scan and a server scan of the same pair judge against exactly the same features.
 */
export async function loadLayersByRef(db: Queryable, refs: LayerRef[], options: LoadLayersOptions = {}): Promise<RuleLayers> {
  const layers: RuleLayers = { permits: [], closedSites: [], protectedAreas: [], jurisdictions: [] };
  for (const ref of [...refs].sort((a, b) => a.layerId - b.layerId)) {
    const key = KIND_KEY[ref.kind as keyof typeof KIND_KEY];
    if (!key) continue;
    let ids: string[] | null = null;
    if (options.near) {
      const near = await featureIdsNear(db, ref.layerId, options.near[key]);
      if (near.ids.length === 0) continue;
      // Most of the layer wanted: loading it all is cheaper than naming each feature.
      if (near.ids.length < near.total / 2) ids = near.ids;
    }
    await loadFeatures(db, ref.layerId, ids, layers[key] as ReferenceArea[]);
  }
  return layers;
}
