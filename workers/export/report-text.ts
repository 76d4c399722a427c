/**
 * The sentences and headings of the evidence report in Simplified Chinese and English, in the
 * words of ../shared/GLOSSARY.md (category, status and confidence names come from
 * pipeline/export/labels.ts, shared with the GIS exports).
 */
import type { Lang } from '../../pipeline/export/labels.js';

const TEXT = {
  title: { zh: '核查举证报告', en: 'Evidence report' },
  subtitle: { zh: '卫星遥感变化图斑线索，非执法结论，以外业核查为准', en: 'A satellite change patch is a clue, not a ruling; field checks decide' },
  alertId: { zh: '线索编号', en: 'Alert id' },
  category: { zh: '类别', en: 'Category' },
  status: { zh: '状态', en: 'Status' },
  confidence: { zh: '置信度', en: 'Confidence' },
  provisional: { zh: '待确认（单次观测）', en: 'provisional (one observation)' },
  confirmed: { zh: '已确认（多次观测）', en: 'confirmed (several observations)' },
  why: { zh: '判定依据', en: 'Why' },
  county: { zh: '所在县（行政区划代码）', en: 'County (division code)' },
  unknownCounty: { zh: '未知（未导入行政区划）', en: 'unknown (no jurisdictions imported)' },
  area: { zh: '面积', en: 'Area' },
  areaOutside: { zh: '许可范围外面积', en: 'Area outside the permit' },
  ha: { zh: '公顷', en: 'ha' },
  mu: { zh: '亩', en: 'mu' },
  permit: { zh: '涉及矿业权', en: 'Permit involved' },
  noPermit: { zh: '无', en: 'none' },
  holder: { zh: '矿业权人', en: 'holder' },
  validity: { zh: '有效期', en: 'validity' },
  miningPermit: { zh: '采矿许可证', en: 'mining permit' },
  explorationPermit: { zh: '勘查许可证', en: 'exploration permit' },
  imageDates: { zh: '成像日期（前时相 / 后时相）', en: 'Acquisition dates (before / after)' },
  firstLast: { zh: '首次 / 最近发现', en: 'First / last seen' },
  observations: { zh: '观测次数', en: 'Observations' },
  centroid: { zh: '中心点坐标', en: 'Centroid' },
  wgs84: { zh: 'WGS 84 经纬度', en: 'WGS 84 lon/lat' },
  gk: { zh: 'CGCS2000 高斯-克吕格3度带', en: 'CGCS2000 Gauss-Krüger 3° zone' },
  zone: { zh: '带号', en: 'zone' },
  cm: { zh: '中央经线', en: 'central meridian' },
  corners: { zh: '图斑拐点坐标', en: 'Corner coordinates of the patch' },
  cornersNote: { zh: '轮廓按约 10 米（一个像元）容差概括；完整坐标见 GeoJSON / Shapefile 导出', en: 'outline generalised at about 10 m (one pixel); full coordinates in the GeoJSON / Shapefile export' },
  point: { zh: '点号', en: 'pt' },
  lon: { zh: '经度', en: 'lon' },
  lat: { zh: '纬度', en: 'lat' },
  northing: { zh: 'X（北）', en: 'X (north)' },
  easting: { zh: 'Y（东，含带号）', en: 'Y (east, zone-prefixed)' },
  images: { zh: '前时相 / 后时相影像', en: 'Before / after images' },
  trueColour: { zh: '真彩色', en: 'true colour' },
  falseColour: { zh: '标准假彩色（植被呈红色）', en: 'false colour (vegetation red)' },
  before: { zh: '前时相', en: 'before' },
  after: { zh: '后时相', en: 'after' },
  legendChange: { zh: '变化图斑', en: 'change patch' },
  legendPermit: { zh: '矿业权范围', en: 'permit boundary' },
  overview: { zh: '位置概览（后时相）', en: 'Overview (after image)' },
  imagesUnavailable: { zh: '影像不可用', en: 'images not available' },
  provenance: { zh: '数据来源与处理', en: 'Provenance' },
  detector: { zh: '变化检测器', en: 'Detector' },
  thresholds: { zh: '阈值', en: 'Thresholds' },
  rules: { zh: '判定规则版本', en: 'Rules version' },
  scan: { zh: '扫描编号', en: 'Scan' },
  scene: { zh: '景', en: 'Scene' },
  sha256: { zh: 'SHA-256', en: 'SHA-256' },
  remote: { zh: '远程影像，按地址标识', en: 'remote scene, identified by its address' },
  history: { zh: '处置记录', en: 'Triage history' },
  noHistory: { zh: '无', en: 'none' },
  generated: { zh: '生成时间', en: 'Generated' },
  page: { zh: '页', en: 'page' },
  north: { zh: '北', en: 'N' },
} as const;

export type TextKey = keyof typeof TEXT;

export function t(lang: Lang, key: TextKey): string {
  return TEXT[key][lang];
}
