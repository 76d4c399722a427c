/**
 * The attribute table of a bulk export: one row per alert, the same columns in CSV, KML
 * descriptions and the Shapefile's .dbf. Each column has its full name (CSV header, GeoJSON and
 * KML data), a Shapefile name of at most 10 characters (the dBASE limit), bilingual labels, and a
 * type. The Shapefile mapping documented in the README is this table.
 */
import type { ExportAlert } from '../store/alert-query.js';
import { CATEGORY_LABELS, CONFIDENCE_LABELS, labelOf, PERMIT_TYPE_LABELS, STATUS_LABELS, type Label } from './labels.js';

/** 1 ha = 15 mu (亩). */
export const MU_PER_HA = 15;

export type ColumnValue = string | number | null;

export interface Column {
  /** Name in CSV, GeoJSON and KML ExtendedData. */
  key: string;
  /** Name in the Shapefile .dbf (≤ 10 characters). */
  shp: string;
  label: Label;
  /** `date`: YYYY-MM-DD text ('' or null when unknown); `number` with `decimals` in the .dbf. */
  type: 'text' | 'number' | 'integer' | 'date';
  decimals?: number;
  value(a: ExportAlert): ColumnValue;
}

const round = (value: number | null, decimals: number) => (value === null ? null : Math.round(value * 10 ** decimals) / 10 ** decimals);

export const COLUMNS: readonly Column[] = [
  { key: 'alert_id', shp: 'alert_id', label: { zh: '线索编号', en: 'alert ID' }, type: 'text', value: (a) => a.alert_id },
  { key: 'category', shp: 'category', label: { zh: '类别代码', en: 'category key' }, type: 'text', value: (a) => a.category },
  { key: 'category_zh', shp: 'cat_zh', label: { zh: '类别', en: 'category (Chinese)' }, type: 'text', value: (a) => CATEGORY_LABELS[a.category]?.zh ?? a.category },
  { key: 'category_en', shp: 'cat_en', label: { zh: '类别（英文）', en: 'category' }, type: 'text', value: (a) => CATEGORY_LABELS[a.category]?.en ?? a.category },
  { key: 'flags', shp: 'flags', label: { zh: '命中规则', en: 'rules that apply' }, type: 'text', value: (a) => a.flags.join(',') },
  { key: 'status', shp: 'status', label: { zh: '状态代码', en: 'status key' }, type: 'text', value: (a) => a.status },
  { key: 'status_zh', shp: 'status_zh', label: { zh: '状态', en: 'status (Chinese)' }, type: 'text', value: (a) => labelOf(STATUS_LABELS, a.status).zh },
  { key: 'confidence', shp: 'confidence', label: { zh: '置信度', en: 'confidence' }, type: 'text', value: (a) => a.confidence },
  { key: 'confidence_zh', shp: 'conf_zh', label: { zh: '置信度（中文）', en: 'confidence (Chinese)' }, type: 'text', value: (a) => labelOf(CONFIDENCE_LABELS, a.confidence).zh },
  { key: 'score', shp: 'score', label: { zh: '变化得分', en: 'change score (0–1)' }, type: 'number', decimals: 4, value: (a) => round(a.score, 4) },
  { key: 'area_ha', shp: 'area_ha', label: { zh: '面积（公顷）', en: 'area (ha)' }, type: 'number', decimals: 4, value: (a) => round(a.area_ha, 4) },
  { key: 'area_mu', shp: 'area_mu', label: { zh: '面积（亩）', en: 'area (mu)' }, type: 'number', decimals: 3, value: (a) => round(a.area_ha * MU_PER_HA, 3) },
  { key: 'area_outside_permit_ha', shp: 'out_ha', label: { zh: '越界面积（公顷）', en: 'area outside permit (ha)' }, type: 'number', decimals: 4, value: (a) => round(a.area_outside_ha, 4) },
  { key: 'centroid_lon', shp: 'cent_lon', label: { zh: '中心点经度（WGS 84）', en: 'centroid longitude (WGS 84)' }, type: 'number', decimals: 8, value: (a) => round(a.centroid[0], 8) },
  { key: 'centroid_lat', shp: 'cent_lat', label: { zh: '中心点纬度（WGS 84）', en: 'centroid latitude (WGS 84)' }, type: 'number', decimals: 8, value: (a) => round(a.centroid[1], 8) },
  { key: 'permit_id', shp: 'permit_id', label: { zh: '许可证号', en: 'permit number' }, type: 'text', value: (a) => a.permit_id },
  { key: 'permit_type', shp: 'permit_typ', label: { zh: '许可证类型', en: 'permit type' }, type: 'text', value: (a) => (a.permit ? labelOf(PERMIT_TYPE_LABELS, a.permit.type).zh : null) },
  { key: 'permit_holder', shp: 'holder', label: { zh: '矿业权人', en: 'permit holder' }, type: 'text', value: (a) => a.permit?.holder || null },
  { key: 'permit_mineral', shp: 'mineral', label: { zh: '矿种', en: 'mineral' }, type: 'text', value: (a) => a.permit?.mineral || null },
  { key: 'permit_valid_from', shp: 'valid_from', label: { zh: '有效期起', en: 'valid from' }, type: 'date', value: (a) => a.permit?.valid_from || null },
  { key: 'permit_valid_to', shp: 'valid_to', label: { zh: '有效期止', en: 'valid to' }, type: 'date', value: (a) => a.permit?.valid_to || null },
  { key: 'permit_status', shp: 'permit_st', label: { zh: '许可证状态', en: 'permit status' }, type: 'text', value: (a) => a.permit?.status || null },
  { key: 'county_code', shp: 'county_cd', label: { zh: '行政区划代码', en: 'division code' }, type: 'text', value: (a) => a.county_code },
  { key: 'county_name', shp: 'county', label: { zh: '县（市、区）', en: 'county' }, type: 'text', value: (a) => a.county_name },
  { key: 'first_seen', shp: 'first_seen', label: { zh: '首次发现（成像日期）', en: 'first seen (acquisition date)' }, type: 'date', value: (a) => a.first_seen },
  { key: 'last_seen', shp: 'last_seen', label: { zh: '最近发现（成像日期）', en: 'last seen (acquisition date)' }, type: 'date', value: (a) => a.last_seen },
  { key: 'observation_count', shp: 'obs_count', label: { zh: '观测次数', en: 'observations' }, type: 'integer', value: (a) => a.observation_count },
  { key: 'change_kind', shp: 'change', label: { zh: '变化类型', en: 'change kind' }, type: 'text', value: (a) => a.change_kind },
  { key: 'before_date', shp: 'before_dt', label: { zh: '前时相成像日期', en: 'before image date' }, type: 'date', value: (a) => a.scan?.before_date ?? null },
  { key: 'after_date', shp: 'after_dt', label: { zh: '后时相成像日期', en: 'after image date' }, type: 'date', value: (a) => a.scan?.after_date ?? null },
  { key: 'detector', shp: 'detector', label: { zh: '检测器', en: 'detector' }, type: 'text', value: (a) => a.detector },
  { key: 'detector_version', shp: 'det_ver', label: { zh: '检测器版本', en: 'detector version' }, type: 'text', value: (a) => a.detector_version },
  { key: 'scan_id', shp: 'scan_id', label: { zh: '扫描编号', en: 'scan ID' }, type: 'text', value: (a) => a.last_scan_id },
  { key: 'summary', shp: 'summary', label: { zh: '规则说明', en: 'rule summary' }, type: 'text', value: (a) => a.summary },
];

export function columnValues(a: ExportAlert): Record<string, ColumnValue> {
  return Object.fromEntries(COLUMNS.map((c) => [c.key, c.value(a)]));
}
