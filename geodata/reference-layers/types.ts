/**
 * The normalized form of a reference layer (permits, closed sites, protected areas,
 * jurisdictions): polygons in EPSG:4326 with an id and checked properties, plus where they came
 * from. Whatever the input format, the rules only ever see this.
 */
import type { Feature, MultiPolygon, Polygon } from 'geojson';

export type LayerKind = 'permits' | 'closed_sites' | 'protected_areas' | 'jurisdictions';
export type LayerFormat = 'geojson' | 'kml' | 'shapefile' | 'csv';

export type PermitType = 'mining' | 'exploration';
/** Permit statuses orewatch knows; only `active` can make a permit valid. */
export type PermitStatus = 'active' | 'expired' | 'suspended' | 'revoked';

/** Permit attributes after normalization (English keys and values, dates YYYY-MM-DD). */
export interface PermitProperties {
  permit_id: string;
  /** 矿业权人; '' when the file has none. */
  holder: string;
  type: PermitType;
  /** Lower-case English key when known (`rare_earth`), else the text as given; '' when absent. */
  mineral: string;
  valid_from: string;
  valid_to: string;
  status: PermitStatus;
}

export interface JurisdictionProperties {
  /** 6-digit administrative division code (行政区划代码). */
  code: string;
  name: string;
  [key: string]: unknown;
}

export type AreaProperties = Record<string, unknown>;

/** A polygon feature of a layer, always with a string `id`. */
export type ReferenceFeature<P> = Feature<Polygon | MultiPolygon, P> & { id: string };

export interface LayerSource {
  /** The path as given. */
  file: string;
  /** Hex SHA-256 of the file's bytes, for provenance. */
  sha256: string;
  format: LayerFormat;
  /** Number of features in the normalized layer. */
  featureCount: number;
}

interface LayerOf<K extends LayerKind, P> {
  kind: K;
  source: LayerSource;
  features: ReferenceFeature<P>[];
}

export type PermitLayer = LayerOf<'permits', PermitProperties>;
export type ClosedSiteLayer = LayerOf<'closed_sites', AreaProperties>;
export type ProtectedAreaLayer = LayerOf<'protected_areas', AreaProperties>;
export type JurisdictionLayer = LayerOf<'jurisdictions', JurisdictionProperties>;

export type ReferenceLayer = PermitLayer | ClosedSiteLayer | ProtectedAreaLayer | JurisdictionLayer;

/** The reference layers of one scan. */
export interface ReferenceLayers {
  permits?: PermitLayer;
  closedSites?: ClosedSiteLayer;
  protectedAreas?: ProtectedAreaLayer;
  jurisdictions?: JurisdictionLayer;
}

export interface LoadLayerOptions<K extends LayerKind = LayerKind> {
  kind: K;
  /**
   * CRS of coordinates when the file does not say (`EPSG:4547`, `4547`, `CRS84`): the
   * `--permits-crs` flag. A CRS the file itself declares (GeoJSON `crs`, .prj) wins.
   */
  crs?: string;
}
