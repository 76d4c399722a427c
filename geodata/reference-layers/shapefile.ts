/**
 * Zipped Shapefile reader (.zip holding .shp, .dbf, .prj, .cpg), also a bare .shp with its
 * sibling files. Geometry and attributes are parsed by shpjs; the zip, the CRS and the text
 * encoding are handled here, because Chinese shapefiles need more care than shpjs gives them:
 * attributes are often GBK, named by a .cpg ("936", "CP936", "GBK") that TextDecoder does not
 * know under those names, or by nothing at all. The .prj is read with proj4 (WKT) and coordinates
 * are reprojected when it names a projected system.
 */
import { readFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { parseDbf, parseShp } from 'shpjs';
import { inputError } from '../../errors/index.js';
import { crsFromPrj } from './crs.js';
import type { RawCrs, RawFeature, RawLayer } from './raw.js';

interface ShapefileParts {
  name: string;
  shp: Uint8Array;
  dbf?: Uint8Array;
  prj?: string;
  cpg?: string;
}

/**
 * The TextDecoder label for a dBase file: from the .cpg when there is one, else from the
 * language-driver byte, else by trying UTF-8 on the records and falling back to GBK.
 */
export function dbfEncoding(dbf: Uint8Array, cpg: string | undefined): string {
  const label = cpg?.trim().toLowerCase().replace(/^ansi\s+/, '');
  if (label !== undefined && label !== '') {
    if (/^(utf-?8|65001)$/.test(label)) return 'utf-8';
    if (/^(936|cp936|windows-936|ms936|gbk|gb2312|gb_2312|gb18030|54936|x-gbk)$/.test(label)) return 'gb18030';
    if (label === '950') return 'big5';
    if (/^\d+$/.test(label)) return `windows-${label}`;
    try {
      new TextDecoder(label);
      return label;
    } catch {
      // Unknown label: fall through to detection.
    }
  }
  // dBase language driver id: 0x4D = code page 936 (GBK), 0x7A = PRC GBK.
  const ldid = dbf[29];
  if (ldid === 0x4d || ldid === 0x7a) return 'gb18030';
  const headerLength = (dbf[8] ?? 0) | ((dbf[9] ?? 0) << 8);
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(dbf.subarray(0, Math.min(dbf.length, Math.max(32, headerLength))));
    new TextDecoder('utf-8', { fatal: true }).decode(dbf.subarray(headerLength));
    return 'utf-8';
  } catch {
    return 'gb18030';
  }
}

function partsFromZip(bytes: Uint8Array, file: string): ShapefileParts {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(bytes);
  } catch (error) {
    throw inputError('LAYER.PARSE', `${file}: not a readable zip file (${error instanceof Error ? error.message : String(error)})`, file, error);
  }
  const names = Object.keys(entries).filter((n) => !n.includes('__MACOSX') && !n.split('/').pop()?.startsWith('._') && !n.endsWith('/'));
  const shps = names.filter((n) => n.toLowerCase().endsWith('.shp'));
  if (shps.length === 0) {
    throw inputError('LAYER.PARSE', `${file}: the zip holds no .shp file (it holds ${names.length === 0 ? 'nothing' : names.join(', ')})`, file);
  }
  if (shps.length > 1) {
    throw inputError('LAYER.PARSE', `${file}: the zip holds ${shps.length} shapefiles (${shps.join(', ')}); give one layer per zip`, file);
  }
  const shpName = shps[0] as string;
  const base = shpName.slice(0, -4).toLowerCase();
  const sibling = (ext: string): Uint8Array | undefined => {
    const name = names.find((n) => n.toLowerCase() === `${base}.${ext}`);
    return name === undefined ? undefined : entries[name];
  };
  const parts: ShapefileParts = { name: shpName, shp: entries[shpName] as Uint8Array };
  const dbf = sibling('dbf');
  const prj = sibling('prj');
  const cpg = sibling('cpg');
  if (dbf !== undefined) parts.dbf = dbf;
  if (prj !== undefined) parts.prj = new TextDecoder().decode(prj);
  if (cpg !== undefined) parts.cpg = new TextDecoder().decode(cpg);
  return parts;
}

async function partsFromShp(file: string, shp: Uint8Array): Promise<ShapefileParts> {
  const base = file.slice(0, -4);
  const tryRead = async (ext: string): Promise<Uint8Array | undefined> => {
    for (const candidate of [`${base}.${ext}`, `${base}.${ext.toUpperCase()}`]) {
      try {
        return new Uint8Array(await readFile(candidate));
      } catch {
        // Missing sibling: try the other spelling, then go without.
      }
    }
    return undefined;
  };
  const parts: ShapefileParts = { name: file, shp };
  const [dbf, prj, cpg] = await Promise.all([tryRead('dbf'), tryRead('prj'), tryRead('cpg')]);
  if (dbf !== undefined) parts.dbf = dbf;
  if (prj !== undefined) parts.prj = new TextDecoder().decode(prj);
  if (cpg !== undefined) parts.cpg = new TextDecoder().decode(cpg);
  return parts;
}

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads a zipped shapefile (or a .shp with its siblings) into raw features in the .prj's CRS. */
export async function readShapefile(bytes: Uint8Array, file: string, isZip: boolean): Promise<RawLayer> {
  const parts = isZip ? partsFromZip(bytes, file) : await partsFromShp(file, bytes);
  let crs: RawCrs = { kind: 'unknown' };
  if (parts.prj !== undefined && parts.prj.trim() !== '') {
    const result = crsFromPrj(parts.prj);
    if (!result.ok) {
      throw inputError('LAYER.CRS', `${file}: the .prj of ${parts.name} cannot be used: ${result.reason} (.prj: ${parts.prj.trim().slice(0, 80)}…)`, file);
    }
    crs = { kind: 'declared', crs: result.crs, converter: result.converter, declaredBy: `the .prj of ${parts.name}` };
  }
  let geometries: ReturnType<typeof parseShp>;
  try {
    geometries = parseShp(view(parts.shp));
  } catch (error) {
    throw inputError('LAYER.PARSE', `${file}: ${parts.name} is not a readable .shp (${error instanceof Error ? error.message : String(error)})`, file, error);
  }
  let records: Record<string, unknown>[] = [];
  if (parts.dbf !== undefined) {
    try {
      records = parseDbf(view(parts.dbf), dbfEncoding(parts.dbf, parts.cpg));
    } catch (error) {
      throw inputError('LAYER.PARSE', `${file}: the .dbf of ${parts.name} is not readable (${error instanceof Error ? error.message : String(error)})`, file, error);
    }
  }
  const features: RawFeature[] = geometries.map((geometry, i) => ({
    where: `FID ${i}`,
    geometry,
    properties: records[i] ?? {},
  }));
  return { format: 'shapefile', crs, features };
}
