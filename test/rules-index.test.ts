/**
 * classifySite and jurisdictionOf with the R-tree and the shortcuts that skip overlays give exactly
 * what every site against every polygon with geodata/area alone gives (classifySiteExhaustively):
 * same outcome, category, flags, permit, areas and trace, to the last bit. Worlds are random, on a
 * 50 m lattice so that shared edges, touching corners and gaps of exactly 100 m (the "near"
 * distance) come up often. Also: loading only the polygons ruleSearchBoxes names changes nothing.
 */
import fc from 'fast-check';
import type { Polygon, Position } from 'geojson';
import { describe, expect, it } from 'vitest';
import { areaHa, bufferedIntersects } from '../geodata/area.js';
import {
  bboxOf, classifySite, classifySiteExhaustively, createRuleIndex, jurisdictionOf, jurisdictionOfExhaustively, ruleSearchBoxes,
  type Bbox,
} from '../pipeline/rules.js';
import {
  DEFAULT_RULES, type AreaGeometry, type ChangeSite, type PermitProperties, type ReferenceArea, type RuleLayers,
} from '../pipeline/types.js';
import { ORIGIN, rect } from './helpers/geometry.js';

const DATE = '2026-10-17';
const M_PER_DEG_LAT = 110_760;
const M_PER_DEG_LON = 111_320 * Math.cos((ORIGIN[1] * Math.PI) / 180);
const at = (x: number, y: number): Position => [ORIGIN[0] + x / M_PER_DEG_LON, ORIGIN[1] + y / M_PER_DEG_LAT];
/** A polygon through points given in metres. */
const quad = (points: [number, number][]): Polygon => ({ type: 'Polygon', coordinates: [[...points, points[0]].map(([px, py]) => at(px, py))] });

/** A shape on the lattice: a rectangle (edges shared with neighbours) or an irregular star polygon. */
const shapeArb = fc.record({
  x: fc.integer({ min: 0, max: 60 }).map((v) => v * 50),
  y: fc.integer({ min: 0, max: 60 }).map((v) => v * 50),
  w: fc.integer({ min: 1, max: 16 }).map((v) => v * 50),
  h: fc.integer({ min: 1, max: 16 }).map((v) => v * 50),
  star: fc.option(fc.array(fc.double({ min: 0.5, max: 1.5, noNaN: true }), { minLength: 4, maxLength: 10 }), { freq: 3 }),
  hole: fc.boolean(),
});
type ShapeSpec = typeof shapeArb extends fc.Arbitrary<infer T> ? T : never;

function geometryOf(s: ShapeSpec, withHole: boolean): Polygon {
  const shell: Position[] = s.star
    ? s.star.map((r, i, all) => {
      const a = (i / all.length) * 2 * Math.PI;
      return at(s.x + (s.w / 2) * (1 + r * Math.cos(a)), s.y + (s.h / 2) * (1 + r * Math.sin(a)));
    })
    : (rect(s.x, s.y, s.x + s.w, s.y + s.h).coordinates[0].slice(0, 4));
  shell.push(shell[0]);
  if (!withHole || !s.hole || s.w < 150 || s.h < 150) return { type: 'Polygon', coordinates: [shell] };
  const hole = rect(s.x + s.w / 3, s.y + s.h / 3, s.x + (2 * s.w) / 3, s.y + (2 * s.h) / 3).coordinates[0].slice().reverse();
  return { type: 'Polygon', coordinates: [shell, hole] };
}

const permitArb = fc.record({
  shape: shapeArb,
  type: fc.constantFrom('mining', 'mining', 'exploration'),
  status: fc.constantFrom('active', 'active', 'active', 'expired', 'suspended'),
  validTo: fc.constantFrom('2025-12-31', '2026-10-17', '2030-06-30'),
  // A second part makes a multipolygon permit.
  second: fc.option(shapeArb, { freq: 6 }),
});

const worldArb = fc.record({
  permits: fc.array(permitArb, { minLength: 1, maxLength: 120 }),
  closed: fc.array(shapeArb, { maxLength: 8 }),
  protectedAreas: fc.array(shapeArb, { maxLength: 4 }),
  sites: fc.array(fc.record({ shape: shapeArb, part: fc.option(shapeArb, { freq: 8 }) }), { minLength: 1, maxLength: 40 }),
  // Four counties meet at a lattice point, their borders slanted so that each one's bbox takes in
  // some of its neighbours'; one may be missing (sites there fall to the city, or to noise).
  splitX: fc.integer({ min: 5, max: 55 }).map((v) => v * 50),
  splitY: fc.integer({ min: 5, max: 55 }).map((v) => v * 50),
  slant: fc.integer({ min: -20, max: 20 }).map((v) => v * 50),
  missing: fc.integer({ min: 0, max: 5 }),
});
type World = typeof worldArb extends fc.Arbitrary<infer T> ? T : never;

function build(world: World): { layers: RuleLayers; sites: ChangeSite[] } {
  const permits: ReferenceArea<PermitProperties>[] = world.permits.map((p, i) => {
    const first = geometryOf(p.shape, true);
    const geometry: AreaGeometry = p.second
      ? { type: 'MultiPolygon', coordinates: [first.coordinates, geometryOf(p.second, false).coordinates] }
      : first;
    return {
      id: `P${i}`, geometry,
      properties: { permit_id: `P${i}`, holder: '', type: p.type, mineral: '', valid_from: '2020-01-01', valid_to: p.validTo, status: p.status },
    };
  });
  const area = (prefix: string) => (s: ShapeSpec, i: number): ReferenceArea => ({ id: `${prefix}${i}`, geometry: geometryOf(s, true), properties: {} });
  const [x, y, d] = [world.splitX, world.splitY, world.slant];
  // The west–east border runs from (x - d, -500) to (x + d, 4500), the south–north one from (-500, y + d) to (4500, y - d).
  const counties = [
    quad([[-500, -500], [x - d, -500], [x, y], [-500, y + d]]),
    quad([[x - d, -500], [4500, -500], [4500, y - d], [x, y]]),
    quad([[-500, y + d], [x, y], [x + d, 4500], [-500, 4500]]),
    quad([[x, y], [4500, y - d], [4500, 4500], [x + d, 4500]]),
  ].map((geometry, i) => ({ id: `36070${i + 1}`, geometry, properties: { code: `36070${i + 1}`, name: `county ${i + 1}` } }))
    .filter((_, i) => i + 1 !== world.missing);
  const jurisdictions = [{ id: '360700', geometry: rect(-1000, -1000, 5000, 5000), properties: { code: '360700', name: 'city' } }, ...counties];
  const sites = world.sites.map(({ shape, part }, siteIndex): ChangeSite => {
    const first = geometryOf(shape, true);
    const geometry: AreaGeometry = part ? { type: 'MultiPolygon', coordinates: [first.coordinates, geometryOf(part, false).coordinates] } : first;
    return { siteIndex, geometry, areaHa: areaHa(geometry), score: 0.9, changeKind: 'vegetation_to_bare_soil', kindShares: {}, centroid: [ORIGIN[0], ORIGIN[1]] };
  });
  return {
    layers: { permits, closedSites: world.closed.map(area('C')), protectedAreas: world.protectedAreas.map(area('N')), jurisdictions },
    sites,
  };
}

/** The indexed answers; a site polygon-clipping cannot overlay is left out of both sides. */
function judge(sites: ChangeSite[], run: (site: ChangeSite) => unknown): unknown[] {
  return sites.map((site) => {
    try {
      return run(site);
    } catch (error) {
      return { failed: (error as Error).message };
    }
  });
}

const meets = (a: Bbox, b: Bbox): boolean => a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3];

describe('classification through the index', () => {
  it('equals every site against every polygon with geodata/area alone', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const { layers, sites } = build(world);
        const index = createRuleIndex(layers);
        const fast = judge(sites, (s) => ({ c: classifySite(s, index, DATE, DEFAULT_RULES), j: jurisdictionOf(s, index) }));
        const brute = judge(sites, (s) => ({ c: classifySiteExhaustively(s, layers, DATE, DEFAULT_RULES), j: jurisdictionOfExhaustively(s, layers) }));
        expect(fast).toEqual(brute);
      }),
      { numRuns: 25, seed: 7 },
    );
  });

  it('needs only the polygons that ruleSearchBoxes names', () => {
    fc.assert(
      fc.property(worldArb, (world) => {
        const { layers, sites } = build(world);
        const boxes = ruleSearchBoxes(sites, DEFAULT_RULES);
        const near = <P>(items: ReferenceArea<P>[], b: Bbox[]): ReferenceArea<P>[] => items.filter((item) => b.some((box) => meets(bboxOf(item.geometry), box)));
        const loaded: RuleLayers = {
          permits: near(layers.permits, boxes.permits), closedSites: near(layers.closedSites, boxes.closedSites),
          protectedAreas: near(layers.protectedAreas, boxes.protectedAreas), jurisdictions: near(layers.jurisdictions, boxes.jurisdictions),
        };
        const [all, some] = [createRuleIndex(layers), createRuleIndex(loaded)];
        expect(judge(sites, (s) => ({ c: classifySite(s, some, DATE, DEFAULT_RULES), j: jurisdictionOf(s, some) })))
          .toEqual(judge(sites, (s) => ({ c: classifySite(s, all, DATE, DEFAULT_RULES), j: jurisdictionOf(s, all) })));
      }),
      { numRuns: 10, seed: 11 },
    );
  });

  it('decides the borderline pairs as geodata/area does: shared edges, holes, the 100 m line, outside every county', () => {
    const permit = (id: string, geometry: Polygon): ReferenceArea<PermitProperties> => ({
      id, geometry, properties: { permit_id: id, holder: '', type: 'mining', mineral: '', valid_from: '2020-01-01', valid_to: '2030-12-31', status: 'active' },
    });
    const withHole = rect(3000, 0, 4000, 1000);
    withHole.coordinates.push(rect(3400, 400, 3600, 600).coordinates[0].slice().reverse());
    const B = rect(1000, 0, 2000, 1000);
    const layers: RuleLayers = {
      permits: [permit('A', rect(0, 0, 1000, 1000)), permit('B', B), permit('C', rect(0, 1100, 1000, 2000)), permit('H', withHole), permit('S', rect(5200, 200, 5300, 300))],
      closedSites: [], protectedAreas: [],
      jurisdictions: [{ id: '360701', geometry: quad([[-500, -500], [3000, -500], [1000, 3000], [-500, 3000]]), properties: { code: '360701', name: 'west' } }],
    };
    // Where "within 100 m of B" flips, as geodata/area measures it: the shortcuts' margins are
    // under a metre there, so sites 0.01 m, 0.3 m and 2 m either side test both sides of them.
    let [lo, hi] = [2050, 2150];
    for (let k = 0; k < 50; k++) {
      const mid = (lo + hi) / 2;
      if (bufferedIntersects(rect(mid, 0, mid + 300, 300), B, 100)) lo = mid;
      else hi = mid;
    }
    const geometries = [
      rect(100, 100, 400, 400), // inside A
      rect(0, 0, 300, 300), // inside A, on two of its edges
      rect(900, 100, 1100, 300), // across the line A and B share
      rect(200, 1000, 500, 1100), // in the 100 m between A and C, touching both
      ...[-2, -0.3, -0.01, 0.01, 0.3, 2].map((dx) => rect(lo + dx, 0, lo + dx + 300, 300)),
      rect(3300, 300, 3700, 700), // inside H's shell, around its hole
      rect(3450, 450, 3550, 550), // in H's hole
      rect(5000, 0, 5500, 500), // around the small permit S
      rect(2500, 2000, 2800, 2300), // outside the only county, inside its bbox
    ];
    const sites = geometries.map((geometry, siteIndex): ChangeSite => ({
      siteIndex, geometry, areaHa: areaHa(geometry), score: 0.9, changeKind: 'vegetation_to_bare_soil', kindShares: {}, centroid: [ORIGIN[0], ORIGIN[1]],
    }));
    const index = createRuleIndex(layers);
    for (const site of sites) {
      expect(classifySite(site, index, DATE, DEFAULT_RULES)).toEqual(classifySiteExhaustively(site, layers, DATE, DEFAULT_RULES));
      expect(jurisdictionOf(site, index)).toEqual(jurisdictionOfExhaustively(site, layers));
    }
    expect(classifySite(sites[0], index, DATE, DEFAULT_RULES).outcome).toBe('licensed');
    const flags = (site: ChangeSite): string[] => {
      const c = classifySite(site, index, DATE, DEFAULT_RULES);
      return c.outcome === 'alert' ? c.flags : [c.outcome];
    };
    expect(sites.slice(4, 10).map(flags)).toEqual([['out_of_bounds'], ['out_of_bounds'], ['out_of_bounds'], ['unlicensed'], ['unlicensed'], ['unlicensed']]);
  });
});
