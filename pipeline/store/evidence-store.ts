/**
 * What an evidence map draws around an alert besides the alert itself: the permits and closed
 * sites of the layer versions its scan was judged against, whose boxes meet an area. (The alert,
 * its permit, scan and history come from alert-query.ts.)
 */
import type { AreaGeometry } from '../types.js';
import type { LayerRef } from './alert-store.js';
import type { Queryable } from './database.js';

export interface NearbyFeature {
  kind: 'permits' | 'closed_sites';
  id: string;
  geometry: AreaGeometry;
}

/** Permits and closed sites of `layers` whose box meets [minLon, minLat, maxLon, maxLat] (at most 200). */
export async function nearbyFeatures(db: Queryable, layers: LayerRef[], around: [number, number, number, number]): Promise<NearbyFeature[]> {
  const ids = layers.filter((l) => l.kind === 'permits' || l.kind === 'closed_sites').map((l) => l.layerId);
  if (ids.length === 0) return [];
  const permitLayers = new Set(layers.filter((l) => l.kind === 'permits').map((l) => l.layerId));
  const [minLon, minLat, maxLon, maxLat] = around;
  const { rows } = await db.query<{ layer_id: string; feature_id: string; geometry: AreaGeometry }>(
    `SELECT layer_id, feature_id, geometry FROM layer_features WHERE layer_id = ANY($1)
        AND min_lon <= $4 AND max_lon >= $2 AND min_lat <= $5 AND max_lat >= $3 ORDER BY layer_id, feature_id LIMIT 200`,
    [ids, minLon, minLat, maxLon, maxLat]);
  return rows.map((r) => ({ kind: permitLayers.has(Number(r.layer_id)) ? 'permits' : 'closed_sites', id: r.feature_id, geometry: r.geometry }));
}
