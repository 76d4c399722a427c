/**
 * Versioned reference layers in the store. Importing a file whose content (SHA-256) equals the
 * latest version of that layer keeps that version; a changed file becomes version n + 1. Alerts
 * and scans record which versions they were judged against.
 */
import type { ReferenceLayer } from '../../geodata/reference-layers/types.js';
import { bboxOf } from '../rules.js';
import type { ReferenceArea, RuleLayers } from '../types.js';
import type { LayerRef } from './alert-store.js';
import type { Queryable } from './database.js';

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
  for (const f of layer.features) {
    const [minLon, minLat, maxLon, maxLat] = bboxOf(f.geometry);
    await tx.query(
      `INSERT INTO layer_features (layer_id, feature_id, properties, geometry, min_lon, min_lat, max_lon, max_lat) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
      [layerId, f.id, JSON.stringify(f.properties), JSON.stringify(f.geometry), minLon, minLat, maxLon, maxLat]);
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

/**
 * The layers a scan recorded (by id), as the rules see them. Both modes classify through this, so
 * an embedded scan and a server scan of the same pair judge against exactly the same features.
 */
export async function loadLayersByRef(db: Queryable, refs: LayerRef[]): Promise<RuleLayers> {
  const layers: RuleLayers = { permits: [], closedSites: [], protectedAreas: [], jurisdictions: [] };
  for (const ref of [...refs].sort((a, b) => a.layerId - b.layerId)) {
    const key = KIND_KEY[ref.kind as keyof typeof KIND_KEY];
    if (!key) continue;
    const features = await db.query<{ feature_id: string; properties: Record<string, unknown>; geometry: ReferenceArea['geometry'] }>(
      'SELECT feature_id, properties, geometry FROM layer_features WHERE layer_id = $1 ORDER BY feature_id', [ref.layerId]);
    const list = layers[key] as ReferenceArea[];
    for (const f of features.rows) list.push({ id: f.feature_id, geometry: f.geometry, properties: f.properties });
  }
  return layers;
}
